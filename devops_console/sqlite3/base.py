"""Django's SQLite backend, with lock waits in short steps instead of SQLite's own.

Web server, Celery worker processes and beat write the same file many times a second (each engine step is
a short write transaction). SQLite's built-in busy handler sleeps 1, 2, 5, 10, 15, 20, 25, … 100 ms between
attempts, so a writer that missed the lock once keeps sleeping long after it was released; measured with
``bench/engine.py`` the worker processes sat idle about half the time. Here SQLite answers "busy" at once
(its busy timeout is 0) and the wait happens in Python, polling every 0.1 ms to 2 ms for up to
``OPTIONS["timeout"]`` seconds.

A busy statement is retried only where SQLite allows it: outside an explicit transaction (``BEGIN
IMMEDIATE`` itself, autocommit statements) and ``COMMIT``. A busy statement inside a transaction raises,
as before (with ``BEGIN IMMEDIATE`` the transaction holds the write lock, so that does not happen).
"""

from __future__ import annotations

import sqlite3
import time

from django.db.backends.sqlite3 import base

FIRST_DELAY = 0.0001
MAX_DELAY = 0.002


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    lock_timeout = 30.0  # seconds; set from OPTIONS["timeout"] by the connection

    def execute(self, query, params=None):
        return self._retrying(super().execute, query, params)

    def executemany(self, query, param_list):
        param_list = list(param_list)  # a generator would be used up by the first attempt
        return self._retrying(super().executemany, query, param_list)

    def _retrying(self, call, query, params):
        deadline, delay = None, FIRST_DELAY
        while True:
            try:
                return call(query, params)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or not self._may_retry(query):
                    raise
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.lock_timeout
                if now >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)

    def _may_retry(self, query: str) -> bool:
        return not self.connection.in_transaction or query.lstrip()[:6].upper() == "COMMIT"


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        kwargs = super().get_connection_params()
        SQLiteCursorWrapper.lock_timeout = float(kwargs.get("timeout", 5.0))
        kwargs["timeout"] = 0  # SQLite's own busy handler off: the cursor waits (above)
        return kwargs

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)
