"""Prepared ORM queries: a queryset compiled to SQL once per database connection alias, then run again with
new parameter values.

The engine's hottest reads (a run's row lock, its stages and tasks, a pipeline's slots) run several times
for every run; Django builds their SQL anew each time, which costs several times what the database does
for them (measured in ``bench/engine.py``: loading a run's stages and tasks 0.58 ms through the ORM, 0.20 ms
prepared). The query stays written with the ORM: ``Prepared`` builds it once with marker values in place of
the arguments, compiles it, and puts the real values where the markers are.

    locked_run = Prepared(lambda run_id: Run.objects.select_for_update().filter(pk=run_id).order_by())
    run = first(locked_run(run_id))

Arguments are integers (ids), each used once in the query; anything that varies otherwise (a list of ids, a
slice) belongs in a plain queryset. Model querysets come back as model instances, built as Django builds them
(field converters, ``select_related``, deferred fields), ``values_list`` querysets as rows. Annotations on
model querysets and ``values()`` dictionaries are not supported.

``save_fields(obj, fields)`` is the same for the hottest writes: ``obj.save(update_fields=fields)`` with the
UPDATE built once per model, fields and database (Django's save builds a queryset, a query and its SQL for
each call: about three times what the database then spends on the statement).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.signals import post_save, pre_save

# Far outside any id range: a marker that also appeared as a constant of the query would be ambiguous.
MARKER_BASE = -7_319_246_000_000


class Prepared:
    """``build(*markers) -> QuerySet`` compiled once per database alias (see the module docstring)."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._arity = len(inspect.signature(build).parameters)
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> _Compiled:
        markers = [MARKER_BASE - index for index in range(self._arity)]
        queryset = self._build(*markers)
        rows = queryset._iterable_class is ValuesListIterable
        if not rows and queryset._iterable_class is not ModelIterable:
            raise ImproperlyConfigured("A prepared query loads model instances or values_list rows.")
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()  # also sets what building the instances needs (select, klass_info)
        slots = []
        for marker in markers:
            found = [index for index, value in enumerate(params) if type(value) is int and value == marker]
            if len(found) != 1:
                raise ImproperlyConfigured(f"Each argument of a prepared query must appear once in it: {sql}")
            slots.append(found[0])
        return _Compiled(compiler, rows, sql, tuple(params), slots, using)

    def _compiled_for(self, using: str) -> _Compiled:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compiled.setdefault(using, self._compile(using))
        return compiled

    def __call__(self, *args: int, using: str = DEFAULT_DB_ALIAS) -> list:
        if len(args) != self._arity:
            raise TypeError(f"expected {self._arity} arguments, got {len(args)}")
        compiled = self._compiled_for(using)
        values = list(compiled.params)
        for slot, value in zip(compiled.slots, args, strict=True):
            values[slot] = int(value)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, values)
            found = cursor.fetchall()
        return compiled.results(found)


class _Compiled:
    """A compiled query and what turns its rows into instances — what ``ModelIterable`` does, minus building
    the SQL. The compiler is kept only for its column converters, which read the connection's settings (time
    zone, features), the same in every thread; the rows come from the calling thread's connection."""

    def __init__(self, compiler, rows: bool, sql: str, params: tuple, slots: list[int], using: str):
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

    ``only_if``: field values the row must still have (a conditional claim); then nothing is raised and the
    result says whether the row was written. A model with ``pre_save`` or ``post_save`` receivers is saved by
    Django instead, so no receiver is ever skipped."""
    model = type(obj)
    conditions = tuple(only_if or ())
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        if only_if:
            found = model._default_manager.using(using).filter(pk=obj.pk, **only_if)
            return bool(found.update(**{name: getattr(obj, name) for name in fields}))
        obj.save(update_fields=fields, using=using)
        return True
    key = (model, tuple(fields), conditions, using)
    compiled = _UPDATES.get(key)
    if compiled is None:
        compiled = _UPDATES.setdefault(key, _compile_update(model, fields, conditions, using))
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


def _compile_update(model: type[Model], fields: Sequence[str], conditions: tuple, using: str) -> tuple:
    meta, quote = model._meta, connections[using].ops.quote_name
    model_fields = [meta.get_field(name) for name in fields]
    condition_fields = [meta.get_field(name) for name in conditions]
    for field in model_fields + condition_fields:
        # Fields Django writes with their own SQL placeholder (binary) or not at all: left to Django.
        if not field.concrete or field.primary_key or field.generated or hasattr(field, "get_placeholder"):
            raise ImproperlyConfigured(f"save_fields cannot use {meta.label}.{field.name}")
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in model_fields)
    where = " AND ".join(f"{quote(field.column)} = %s" for field in [meta.pk, *condition_fields])
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where}", model_fields, condition_fields
