"""The version AIME reports (API_VERSION, the User-Agent of its HTTP clients)."""

__version__ = "0.1.0"
