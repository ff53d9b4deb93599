"""Model architectures (Hugging Face classes from typed configs), losses, and the exported HF directory."""
