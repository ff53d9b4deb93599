"""The text stages: article JSON → plain text → one corpus → cleaned → train/val split.

In order: :mod:`.convert`, :mod:`.combine`, :mod:`.clean` (rules in :mod:`.clean_rules`), :mod:`.split`;
``python -m babylm prepare`` (:mod:`babylm.data.pipeline`) runs them all.
"""
