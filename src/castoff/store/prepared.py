"""Hot-path statements: compiled once per dialect, executed on the DBAPI cursor.

SQLAlchemy builds and compiles each statement (so the SQL, the casts and the
value conversions are exactly SQLAlchemy's); :class:`Prepared` then runs it
straight on the driver connection of the current transaction, skipping the
per-execution bookkeeping that dominates a task lifecycle's cost. Driver errors
are re-raised as SQLAlchemy ``DBAPIError`` so :class:`~castoff.store.database.Database`
retries them like any other. Statements with expanding ``IN`` lists stay on the
ordinary ``Connection.execute`` path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ARRAY, Connection, Dialect, any_, bindparam, func, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from castoff.store.schema import UTCDateTime, utc_result_processor

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # bind names in placeholder order (positional styles)
    defaults: dict[str, Any]
    bind_processors: tuple[tuple[str, Processor], ...]
    columns: tuple[str, ...]
    make_row: Callable[[Sequence[Any]], dict[str, Any]]


def _row_maker(
    columns: Sequence[str], converters: Mapping[str, Processor]
) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A function turning a driver row into a dict of column key -> converted value.

    Generated once per statement (the way :mod:`dataclasses` makes ``__init__``): one
    dict display, converting only the columns whose type needs it and only non-NULL
    values (NULL is None whatever the type; none of ours maps it to anything else).
    It is most of what reading a page of tasks costs, so it is kept this lean.
    """
    env: dict[str, Any] = {}
    items = []
    for i, name in enumerate(columns):
        value = f"raw[{i}]"
        if name in converters:
            env[f"conv{i}"] = converters[name]
            value = f"(None if raw[{i}] is None else conv{i}(raw[{i}]))"
        items.append(f"{name!r}: {value}")
    source = f"def make_row(raw):\n    return {{{', '.join(items)}}}\n"
    exec(source, env)
    return cast(Callable[[Sequence[Any]], dict[str, Any]], env["make_row"])


def _result_processor(type_: Any, dialect: Dialect) -> Processor | None:
    if isinstance(type_, UTCDateTime):
        return cast(Processor, utc_result_processor(dialect))
    return cast(Processor | None, type_.dialect_impl(dialect).result_processor(dialect, None))


class Prepared:
    """One statement, compiled lazily per dialect and run on the raw cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
        defaults: dict[str, Any] = {}
        processors: dict[str, Processor] = {}  # one per name, even if the bind repeats
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                defaults[name] = bind.effective_value
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                processors.setdefault(name, proc)
        exported = getattr(self.statement, "exported_columns", ())
        columns = tuple(c.key for c in exported)
        converters = {c.key: conv for c in exported if (conv := _result_processor(c.type, dialect))}
        order = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError("Prepared cannot run statements with expanding IN lists")
        return _Compiled(
            sql=sql,
            order=order,
            defaults=defaults,
            bind_processors=tuple(processors.items()),
            columns=columns,
            make_row=_row_maker(columns, converters),
        )

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run the statement in ``conn``'s transaction; the DBAPI cursor."""
        dialect = conn.dialect
        c = self._for(dialect)
        values = c.defaults | dict(params)
        for name, proc in c.bind_processors:
            values[name] = proc(values[name])
        args: Any = tuple(values[n] for n in c.order) if c.order is not None else values
        driver: Any = conn.connection.driver_connection
        dbapi = dialect.loaded_dbapi
        try:
            return driver.execute(c.sql, args)
        except dbapi.Error as exc:
            raise DBAPIError.instance(c.sql, args, exc, dbapi.Error, dialect=dialect) from exc

    def one(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first result row as a dict of column key → value, or None."""
        raw = self.execute(conn, params).fetchone()
        return None if raw is None else self._for(conn.dialect).make_row(raw)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every result row as a dict of column key → value."""
        make_row = self._for(conn.dialect).make_row
        return [make_row(raw) for raw in self.execute(conn, params).fetchall()]

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set of ``rows`` (one driver call)."""
        if not rows:
            return
        dialect = conn.dialect
        c = self._for(dialect)
        batch = []
        for params in rows:
            values = c.defaults | dict(params)
            for name, proc in c.bind_processors:
                values[name] = proc(values[name])
            batch.append(tuple(values[n] for n in c.order) if c.order is not None else values)
        driver: Any = conn.connection.driver_connection
        dbapi = dialect.loaded_dbapi
        try:
            if dialect.name == "sqlite":
                driver.executemany(c.sql, batch)
            else:
                with driver.cursor() as cursor:
                    cursor.executemany(c.sql, batch)
        except dbapi.Error as exc:
            raise DBAPIError.instance(c.sql, batch, exc, dbapi.Error, dialect=dialect) from exc

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every result row as a tuple of converted values."""
        return [tuple(r.values()) for r in self.all(conn, params)]


def in_list(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name`` — as ONE parameter, not an ``IN`` list.

    SQLite reads the list from a JSON array (``json_each``), PostgreSQL from an
    array (``= ANY``); either way the SQL is the same for any length, so it can be
    compiled once and run as a :class:`Prepared` statement.
    """
    if dialect == "sqlite":
        each = func.json_each(bindparam(name))
        listed: Select[Any] = select(literal_column("value")).select_from(each)
        return column.in_(listed)
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def list_value(values: Sequence[Any], dialect: str) -> Any:
    """A list as :func:`in_list` binds it: JSON text for SQLite, the list for PostgreSQL."""
    return json.dumps(list(values)) if dialect == "sqlite" else list(values)


class PerDialect:
    """A statement whose SQL differs per dialect (see :func:`in_list`): built and
    prepared once per dialect; ``lists`` names the parameters that are lists."""

    def __init__(self, build: Callable[[str], ClauseElement], *, lists: Sequence[str] = ()) -> None:
        self._build = build
        self._lists = tuple(lists)
        self._prepared: dict[str, Prepared] = {}

    def _for(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Prepared, dict[str, Any]]:
        name = conn.dialect.name
        found = self._prepared.get(name)
        if found is None:
            found = self._prepared[name] = Prepared(self._build(name))
        values = dict(params)
        for key in self._lists:
            values[key] = list_value(values[key], name)
        return found, values

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        prepared, values = self._for(conn, params)
        return prepared.execute(conn, values)

    def one(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        prepared, values = self._for(conn, params)
        return prepared.one(conn, values)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        prepared, values = self._for(conn, params)
        return prepared.all(conn, values)

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        prepared, values = self._for(conn, params)
        return prepared.tuples(conn, values)
