"""What the app's SQLite files (conversations, the documents index) share: numbered migrations,
each applied in its own transaction, and explicit write transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from conversion.errors import HuacayaError

Migration = tuple[int, str, str]  # version, name, SQL


def apply_migrations(
    db: sqlite3.Connection,
    migrations: Sequence[Migration],
    too_new: Callable[[int], HuacayaError],
    up_to: int | None = None,
) -> list[int]:
    """Apply the migrations not yet in ``schema_migrations``; returns the versions applied.

    A file from a newer Huacaya (a version beyond ours) raises ``too_new(version)`` untouched.
    """
    latest = migrations[-1][0]
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    if done and max(done) > latest:
        raise too_new(max(done))
    applied = []
    for version, name, sql in migrations:
        if version in done or (up_to is not None and version > up_to):
            continue
        record = f"INSERT INTO schema_migrations VALUES ({version}, '{name}', {time.time()});"
        try:
            db.executescript(f"BEGIN;\n{sql}\n{record}\nCOMMIT;")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error (the connection is in
    autocommit mode: ``isolation_level=None``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def read_snapshot(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN`` … ``COMMIT`` around reads: with WAL, every read inside sees the database as it
    was at the first one, while other connections go on writing (an export of every chat is
    one moment of the history, not a mix of before and after)."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("COMMIT")
