"""The Alembic environment of the SQL store (run through iocd.store.migrate, not the CLI)."""
