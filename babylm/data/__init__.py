"""Data pipeline: scrape → convert → combine → clean → split → tokenizer → encode → DataModule."""
