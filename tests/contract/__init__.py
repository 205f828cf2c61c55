"""One behaviour suite run over every store (memory, SQLite, PostgreSQL)."""
