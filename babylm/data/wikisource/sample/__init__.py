"""The bundled sample (38 short original articles) and a local stand-in for Wikisource's API.

Run: ``python -m babylm.data.wikisource.sample --port 8765`` serves it at ``http://127.0.0.1:8765/w/api.php``.
:mod:`.wiki` loads the sample pages, :mod:`.api` answers MediaWiki API queries over them, :mod:`.server`
adds HTTP and fault injection. Used offline (``prepare --source sample``, the quick start) and by the tests.
"""
