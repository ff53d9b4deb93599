"""Evaluation of exported models (BLiMP minimal pairs, perplexity)."""
