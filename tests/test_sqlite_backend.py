"""The SQLite backend's lock wait (devops_console/sqlite3): a writer that finds the database locked polls in
short steps instead of SQLite's own 1–100 ms sleeps, gives up after OPTIONS["timeout"], and retries only
statements SQLite allows to be retried (outside a transaction, or COMMIT)."""

from __future__ import annotations

import sqlite3
import threading
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from devops_console.sqlite3 import base


def connect(path, timeout=5.0, mode="IMMEDIATE"):
    handler = ConnectionHandler(
        {"default": {"ENGINE": "devops_console.sqlite3", "NAME": str(path),
                     "OPTIONS": {"timeout": timeout, "transaction_mode": mode}}}  # fmt: skip
    )
    return handler["default"]


@pytest.fixture(autouse=True)
def _own_connections(django_db_blocker):
    """These connections are to throwaway files, not the test database."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "lock.sqlite3"
    conn = connect(path)
    with conn.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("CREATE TABLE t (id integer primary key, v integer)")
        cursor.execute("INSERT INTO t VALUES (1, 0)")
    conn.close()
    return path


def hold_write_lock(path, seconds):
    """Another connection takes the write lock now and releases it after ``seconds``."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(seconds, lambda: (holder.execute("COMMIT"), holder.close()))
    release.start()
    return release


def test_a_waiting_writer_polls_in_short_steps_and_gets_the_lock(db_file):
    waiter = connect(db_file)
    sleeps = []
    real_sleep = base.time.sleep
    release = hold_write_lock(db_file, 0.3)
    with mock.patch.object(base.time, "sleep", side_effect=lambda s: (sleeps.append(s), real_sleep(s))):
        with waiter.cursor() as cursor:
            cursor.execute("UPDATE t SET v = v + 1 WHERE id = 1")  # autocommit: retried until the lock is free
            cursor.execute("SELECT v FROM t")
            assert cursor.fetchone() == (1,)
    release.join()
    assert sleeps, "the lock was held, so the writer must have waited"
    assert max(sleeps) <= base.MAX_DELAY  # SQLite's own handler would sleep up to 100 ms at a time


def test_begin_immediate_waits_too(db_file):
    waiter = connect(db_file)
    release = hold_write_lock(db_file, 0.2)
    with _atomic(waiter):  # BEGIN IMMEDIATE waits for the holder, then the update cannot be busy
        waiter.cursor().execute("UPDATE t SET v = 5")
    release.join()
    with waiter.cursor() as cursor:
        cursor.execute("SELECT v FROM t")
        assert cursor.fetchone() == (5,)


class _atomic:
    """BEGIN IMMEDIATE … COMMIT on a connection that is not in django.db.connections."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.ensure_connection()
        self.conn._start_transaction_under_autocommit()

    def __exit__(self, *exc):
        self.conn.cursor().execute("COMMIT")


def test_gives_up_after_the_timeout(db_file):
    waiter = connect(db_file, timeout=0.2)
    release = hold_write_lock(db_file, 1.0)
    with pytest.raises(OperationalError, match="locked"):
        waiter.cursor().execute("UPDATE t SET v = 2")
    release.join()


def test_a_busy_statement_inside_a_transaction_is_not_retried(db_file):
    """SQLite says to roll back, not retry, a busy statement of an open transaction (here a deferred one)."""
    waiter = connect(db_file, mode="DEFERRED")
    with waiter.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT v FROM t")
        release = hold_write_lock(db_file, 0.5)
        with mock.patch.object(base.time, "sleep") as sleep, pytest.raises(OperationalError):
            cursor.execute("UPDATE t SET v = 3")
        sleep.assert_not_called()
        cursor.execute("ROLLBACK")
    release.join()
