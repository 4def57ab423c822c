"""ssdbpy: an SSDB 1.9.8 compatible NoSQL server."""

__version__ = "0.1.0"
