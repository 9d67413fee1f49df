__version__ = "0.1.0"
"""The version of kerasx, as `"MAJOR.MINOR.PATCH"` (Semantic Versioning)."""
