"""babylm: small, data-efficient language models trained on the 1911 Encyclopaedia Britannica.

Importing the package runs nothing. Entry point: ``python -m babylm --help``.
"""

__version__ = "0.1.0"
