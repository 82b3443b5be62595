"""The package version; the compiled core must report the same one (checked at import)."""

__version__ = "0.1.0"
