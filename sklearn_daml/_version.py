"""The version of sklearn-daml, in one place."""

__version__ = "0.1.0"
