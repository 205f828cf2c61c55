"""Tests of the SQL store's own machinery (migrations, engine settings)."""
