"""Conversations kept in SQLite: the store, its schema and migrations, search, export and import."""
