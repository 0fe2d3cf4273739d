"""The version of t0lake, in a module of its own so internal modules can name it without
importing the package root (which imports everything)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
