"""Every storage test runs on SQLite and on the local PostgreSQL (`store_url`, tests/conftest.py)."""
