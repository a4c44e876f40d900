"""One behaviour suite, two backends: the in-memory fake and the real SDK + local server."""
