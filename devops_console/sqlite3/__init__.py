"""SQLite database backend with prompt lock waits (see ``base``)."""
