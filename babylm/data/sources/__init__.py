"""Offline ingests into the article layout of :mod:`babylm.data.articles` (no scraping needed).

:mod:`.gutenberg` reads Project Gutenberg's EB1911 slices, :mod:`.wikitext` reads Wikisource page wikitext
(XML export, JSON, JSON Lines); :mod:`.wikitext_render` and :mod:`.gutenberg_markup` turn each source's
markup into plain text (the cleaner reuses both as a safety net). Modules here never import :mod:`babylm.data.text`.
"""
