"""Tokens: the byte-level BPE tokenizer (:mod:`.tokenizer`), the splits encoded to uint16 memmaps
(:mod:`.encode`), and the Lightning DataModule that only memory-maps them (:mod:`.datamodule`)."""
