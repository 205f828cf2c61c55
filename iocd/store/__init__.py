"""Storage adapters: in-memory (tests, reference) and SQL (SQLite, PostgreSQL)."""
