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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # bind names in placeholder order (positional styles)
    defaults: dict[str, Any]
    bind_processors: tuple[tuple[str, Processor], ...]
    columns: tuple[str, ...]
    result_processors: tuple[Processor | None, ...]


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
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in exported
        )
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
            result_processors=results,
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

    def _row(self, c: _Compiled, raw: Any) -> dict[str, Any]:
        return {
            name: (proc(value) if proc is not None else value)
            for name, proc, value in zip(c.columns, c.result_processors, raw, strict=True)
        }

    def one(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first result row as a dict of column key → value, or None."""
        raw = self.execute(conn, params).fetchone()
        return None if raw is None else self._row(self._for(conn.dialect), raw)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every result row as a dict of column key → value."""
        c = self._for(conn.dialect)
        return [self._row(c, raw) for raw in self.execute(conn, params).fetchall()]

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every result row as a tuple of converted values."""
        return [tuple(r.values()) for r in self.all(conn, params)]
