"""Prepared ORM queries: a queryset compiled to SQL once per database connection alias, then run again with
new parameter values.

The engine's hottest reads (a run's row lock, its stages and tasks, a pipeline's slots) run several times
for every run; Django builds their SQL anew each time, which costs several times what the database does
for them (measured in ``bench/engine.py``: loading a run's stages and tasks 0.58 ms through the ORM, 0.20 ms
prepared). The query stays written with the ORM: ``Prepared`` builds it once with marker values in place of
the arguments, compiles it, and puts the real values where the markers are.

    locked_run = Prepared(lambda run_id: Run.objects.select_for_update().filter(pk=run_id).order_by())
    run = first(locked_run(run_id))

Arguments are integers (ids), each used at least once in the query (a user id in several subqueries of a
permission check), and one outside 64 bits matches no row (a URL's id: no overflow); anything that varies
otherwise (a list of ids, a slice) belongs in a plain queryset. Model querysets come back as model instances,
built as Django builds them (field converters, ``select_related``, deferred fields), ``values_list`` querysets
as rows. Annotations on model querysets and ``values()`` dictionaries are not supported.

``save_fields(obj, fields)`` is the same for the hottest writes: ``obj.save(update_fields=fields)`` with the
UPDATE built once per model, fields and database (Django's save builds a queryset, a query and its SQL for
each call: about three times what the database then spends on the statement). Inside ``saves_together()``
the writes are collected and, when the block ends, written with one statement per model and fields for all
the rows (starting a burst of runs marks each one's first stage and task started: two statements for all of
them instead of two per run).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.signals import post_save, pre_save

# Far outside any id range: a marker that also appeared as a constant of the query would be ambiguous.
MARKER_BASE = -7_319_246_000_000
ID_MIN, ID_MAX = -(2**63), 2**63 - 1  # the databases' 64-bit integers; an argument outside matches no row
NOTHING = object()  # what a query that can match no row compiles to


class Prepared:
    """``build(*markers) -> QuerySet`` compiled once per database alias (see the module docstring)."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._arity = len(inspect.signature(build).parameters)
        self._compiled: dict[str, _Compiled | object] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> _Compiled | object:
        markers = [MARKER_BASE - index for index in range(self._arity)]
        queryset = self._build(*markers)
        rows = queryset._iterable_class is ValuesListIterable
        if not rows and queryset._iterable_class is not ModelIterable:
            raise ImproperlyConfigured("A prepared query loads model instances or values_list rows.")
        compiler = queryset.query.get_compiler(using=using)
        try:
            sql, params = compiler.as_sql()  # also sets what building the instances needs (select, klass_info)
        except EmptyResultSet:  # a condition no row meets, whatever the arguments (``Q(pk__in=[])``)
            return NOTHING
        slots = []
        for marker in markers:
            found = [index for index, value in enumerate(params) if type(value) is int and value == marker]
            if not found:
                raise ImproperlyConfigured(f"Each argument of a prepared query must appear in it: {sql}")
            slots.append(found)
        return _Compiled(compiler, rows, sql, tuple(params), slots, using)

    def _compiled_for(self, using: str) -> _Compiled | object:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compiled.setdefault(using, self._compile(using))
        return compiled

    def __call__(self, *args: int, using: str = DEFAULT_DB_ALIAS) -> list:
        if len(args) != self._arity:
            raise TypeError(f"expected {self._arity} arguments, got {len(args)}")
        args = tuple(int(value) for value in args)
        if any(not ID_MIN <= value <= ID_MAX for value in args):
            return []  # no row has such an id (Django's integer lookups answer nothing, too)
        compiled = self._compiled_for(using)
        if compiled is NOTHING:
            return []  # as Django answers such a queryset: without asking the database
        values = list(compiled.params)
        for slots, value in zip(compiled.slots, args, strict=True):
            for slot in slots:
                values[slot] = value
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, values)
            found = cursor.fetchall()
        return compiled.results(found)


class _Compiled:
    """A compiled query and what turns its rows into instances — what ``ModelIterable`` does, minus building
    the SQL. The compiler is kept only for its column converters, which read the connection's settings (time
    zone, features), the same in every thread; the rows come from the calling thread's connection."""

    def __init__(self, compiler, rows: bool, sql: str, params: tuple, slots: list[list[int]], using: str):
        self.compiler, self.rows, self.sql, self.params, self.slots, self.using = (
            compiler, rows, sql, params, slots, using
        )  # fmt: skip
        # What ``compiler.results_iter`` finds anew for every call: which columns need converting, and how.
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ImproperlyConfigured("Prepared queries take no composite fields.")
        self.converters = compiler.get_converters(columns)
        if rows:
            return
        if compiler.annotation_col_map:
            raise ImproperlyConfigured("Prepared model queries take no annotations.")
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.related = get_related_populators(klass_info, select, using)

    def results(self, found: list) -> list:
        if self.converters:
            found = self.compiler.apply_converters(found, self.converters)
        if self.rows:
            return [tuple(row) for row in found]
        objects = []
        for row in found:
            obj = self.model.from_db(self.using, self.init_list, row[self.start : self.end])
            for populator in self.related:
                populator.populate(row, obj)
            objects.append(obj)
        return objects


def first(results: list):
    """The first result or None (``QuerySet.first`` for a prepared query's list)."""
    return results[0] if results else None


_UPDATES: dict[tuple, tuple[str, list]] = {}


def save_fields(
    obj: Model, fields: Sequence[str], *, only_if: dict | None = None, using: str = DEFAULT_DB_ALIAS
) -> bool:
    """``obj.save(update_fields=fields)`` with the UPDATE built once (see the module docstring): the same values
    written (each field's ``pre_save`` and ``get_db_prep_save``), the same error when no row matched.

    ``only_if``: field values the row must still have (a conditional claim; None: the column is NULL); then
    nothing is raised and the result says whether the row was written. A model with ``pre_save`` or
    ``post_save`` receivers is saved by Django instead, so no receiver is ever skipped."""
    model = type(obj)
    conditions = tuple(only_if or ())
    signals = pre_save.has_listeners(model) or post_save.has_listeners(model)
    pending = getattr(_collecting, "writes", None)
    if pending is not None and not only_if and not signals and using == DEFAULT_DB_ALIAS:
        pending.setdefault((model, tuple(fields)), {})[obj.pk] = obj
        return True
    if signals:
        if only_if:
            found = model._default_manager.using(using).filter(pk=obj.pk, **only_if)
            return bool(found.update(**{name: getattr(obj, name) for name in fields}))
        obj.save(update_fields=fields, using=using)
        return True
    nulls = tuple(name for name in conditions if only_if[name] is None)  # compiled as IS NULL
    key = (model, tuple(fields), conditions, nulls, using)
    compiled = _UPDATES.get(key)
    if compiled is None:
        compiled = _UPDATES.setdefault(key, _compile_update(model, fields, conditions, using, nulls))
    sql, model_fields, condition_fields = compiled
    connection = connections[using]
    values = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in model_fields]
    values.append(obj.pk)
    values += [field.get_db_prep_save(only_if[field.name], connection) for field in condition_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        written = cursor.rowcount == 1
    if not written and not only_if:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    return written


def _compile_update(
    model: type[Model], fields: Sequence[str], conditions: tuple, using: str, nulls: tuple = ()
) -> tuple:
    meta, quote = model._meta, connections[using].ops.quote_name
    model_fields = [meta.get_field(name) for name in fields]
    condition_fields = [meta.get_field(name) for name in conditions if name not in nulls]
    for field in model_fields + condition_fields:
        # Fields Django writes with their own SQL placeholder (binary) or not at all: left to Django.
        if not field.concrete or field.primary_key or field.generated or hasattr(field, "get_placeholder"):
            raise ImproperlyConfigured(f"save_fields cannot use {meta.label}.{field.name}")
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in model_fields)
    where = " AND ".join(
        [f"{quote(field.column)} = %s" for field in [meta.pk, *condition_fields]]
        + [f"{quote(meta.get_field(name).column)} IS NULL" for name in nulls]
    )
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where}", model_fields, condition_fields


_collecting = threading.local()


@contextmanager
def saves_together() -> Iterator[None]:
    """``save_fields`` calls inside the block (unconditional ones, default database) are written when it ends:
    one statement per model and fields for all their rows, with the values the objects have by then (so a row
    saved twice is written once). For a stretch of code that writes rows it loaded or created and reads none
    of them back from the database before the block ends. Nested blocks write with the outermost one."""
    if getattr(_collecting, "writes", None) is not None:
        yield
        return
    _collecting.writes = writes = {}
    try:
        yield
    finally:
        _collecting.writes = None
    for (model, fields), objects in writes.items():
        _update_rows(model, fields, list(objects.values()))


def _update_rows(model: type[Model], fields: tuple[str, ...], objects: list[Model]) -> None:
    """``UPDATE … FROM (VALUES …)`` of ``objects``' ``fields``; one row: ``save_fields``'s own statement."""
    if len(objects) == 1:
        save_fields(objects[0], fields)
        return
    connection = connections[DEFAULT_DB_ALIAS]
    sql, model_fields = _compile_multi_update(model, fields, len(objects))
    values = []
    for obj in objects:
        values.append(obj.pk)
        values += [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in model_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if cursor.rowcount != len(objects):
            raise DatabaseError("Save with update_fields did not affect every row.")


_MULTI_UPDATES: dict[tuple, tuple[str, list]] = {}


def _compile_multi_update(model: type[Model], fields: tuple[str, ...], count: int) -> tuple[str, list]:
    key = (model, fields, count, connections[DEFAULT_DB_ALIAS].vendor)  # the SQL differs by database
    if key not in _MULTI_UPDATES:
        _MULTI_UPDATES[key] = _build_multi_update(model, fields, count)
    return _MULTI_UPDATES[key]


def _build_multi_update(model: type[Model], fields: tuple[str, ...], count: int) -> tuple[str, list]:
    """``UPDATE t SET … FROM (VALUES …) AS v WHERE t.pk = v.<first>``, which PostgreSQL and SQLite (3.33+) both
    take. PostgreSQL names the list's columns in the alias and types each value by its column (a column of
    NULLs is text otherwise); SQLite calls them column1, column2, …"""
    meta, connection = model._meta, connections[DEFAULT_DB_ALIAS]
    _sql, model_fields, _conditions = _compile_update(model, fields, (), DEFAULT_DB_ALIAS)  # the same checks
    quote, columns = connection.ops.quote_name, [meta.pk, *model_fields]
    if connection.vendor == "postgresql":
        names = [f"c{index}" for index in range(len(columns))]
        alias = f"v ({', '.join(names)})"
        placeholder = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    else:
        names = [f"column{index + 1}" for index in range(len(columns))]
        alias, placeholder = "v", "(" + ", ".join(["%s"] * len(columns)) + ")"
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{name}" for f, name in zip(model_fields, names[1:], strict=True))
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * count)}) AS {alias} "
        f"WHERE {table}.{quote(meta.pk.column)} = v.{names[0]}"
    )
    return sql, model_fields
