"""The project's shared plumbing: atomic files, safe JSON, output ownership, folder guards, argument types."""
