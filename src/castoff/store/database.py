"""Engines and transactions: the store's narrow seam.

One engine per process per URL (reference counted). SQLite runs in WAL mode
with foreign keys on and a busy timeout; writes take the write lock up front
(``BEGIN IMMEDIATE``) so two writers queue instead of deadlocking. Every unit
of work is a function of a ``Connection`` run in ONE transaction by
:meth:`Database.write` / :meth:`Database.read`; transient failures (database
locked, serialization failure, connection dropped) roll back and retry with
exponential backoff, so nothing half-written is ever visible.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from castoff.errors import CastoffError, ConfigError, StoreError
from castoff.workspace import STATE_DIRNAME, ensure_state_dir

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
RETRIES = 8

_lock = threading.Lock()
_engines: dict[str, tuple[Engine, int]] = {}


def _sqlite_engine(url: str) -> Engine:
    # Each thread keeps its own connection (see Database), so no pool is needed.
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, poolclass=NullPool
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


URL_HELP = "use sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE"
CONNECT_TIMEOUT_S = 10


def parse_url(url: str) -> URL:
    """``url`` parsed, or a ConfigError naming it (password hidden) and the accepted forms."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        shown = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
        raise ConfigError(f"malformed database URL {shown!r}: {URL_HELP}") from None


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def store_exists(url: str) -> bool:
    """False only for a SQLite URL whose file does not exist yet (a server always exists)."""
    path = sqlite_file(url)
    return path is None or path.is_file()


def _make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError(
                "the SQLite store needs a file path (in-memory databases are not shared)"
            )
        folder = Path(parsed.database).parent
        try:
            if folder.name == STATE_DIRNAME:
                ensure_state_dir(folder)
            else:
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store folder {folder}: {exc.strerror or exc}"
            ) from exc
        return _sqlite_engine(url)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Fail in seconds, not minutes, when the server cannot be reached.
        timeout = (
            {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_S}
        )
        try:
            # No pre-ping round trip per transaction: a dropped connection fails the
            # transaction as transient and Database retries it on a fresh connection.
            return create_engine(parsed, pool_size=5, max_overflow=10, connect_args=timeout)
        except ArgumentError as exc:
            raise ConfigError(f"unusable database URL {safe(parsed)!r}: {exc}") from None
    raise ConfigError(f"unsupported database URL {safe(parsed)!r}: {URL_HELP}")


def safe(url: URL | str) -> str:
    """``url`` with any password hidden."""
    parsed = parse_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def acquire_engine(url: str) -> Engine:
    """The process-wide engine for ``url``, created on first use."""
    with _lock:
        engine, refs = _engines.get(url) or (_make_engine(url), 0)
        _engines[url] = (engine, refs + 1)
        return engine


def release_engine(url: str) -> None:
    """Drop one reference; dispose the engine when nobody uses it any more."""
    with _lock:
        if url not in _engines:
            return
        engine, refs = _engines[url]
        if refs <= 1:
            del _engines[url]
            engine.dispose()
        else:
            _engines[url] = (engine, refs - 1)


#: The first statement of every PostgreSQL read transaction (see Database.read).
SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
TRANSIENT_SQLSTATES = ("08", "40", "53", "57P", "55P03")


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: locks, serialization, dropped connections."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if type(orig).__module__.startswith("psycopg"):
        sqlstate = getattr(orig, "sqlstate", None)
        return sqlstate is None or str(sqlstate).startswith(TRANSIENT_SQLSTATES)
    text = str(orig).lower()
    return "locked" in text or "busy" in text


class Database:
    """A store URL with its engine and transaction helpers.

    With SQLite each thread keeps one connection for its transactions (dropped
    after any failure and opened afresh), which keeps the per-transaction cost
    low; with PostgreSQL each transaction checks a connection out of the pool.
    """

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self._local = threading.local()
        self._conns: dict[int, Connection] = {}
        self._conns_lock = threading.Lock()
        self._persistent = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str) -> Database:
        return cls(url=url, engine=acquire_engine(url))

    def close(self) -> None:
        """Close this store's connections and release its engine.

        Closing the last connection to a SQLite database in WAL mode checkpoints
        it: the WAL is synced, copied into the database file, which is synced, and
        removed — milliseconds of fsync. Nothing about the data depends on when
        that finishes (every transaction is already committed), so SQLite
        connections are closed by a thread of their own, off the caller's path;
        the interpreter waits for it at exit, so the checkpoint still completes.
        """
        with self._conns_lock:
            conns, self._conns = list(self._conns.values()), {}
        self._local = threading.local()
        if self._persistent and conns:
            threading.Thread(target=_close_all, args=(conns,), name="castoff-store-close").start()
        else:
            _close_all(conns)
        release_engine(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden."""
        return safe(self.url)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for SQLite; None for PostgreSQL."""
        return sqlite_file(self.url) if self.dialect == "sqlite" else None

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one write transaction, retrying transient failures."""
        return self._run(work, write=True)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read-only transaction that sees one consistent snapshot.

        SQLite's transactions are snapshots already; on PostgreSQL the
        transaction is REPEATABLE READ (READ ONLY), so every statement of
        ``work`` sees the same committed state.
        """
        return self._run(work, write=False)

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.connect()
            self._local.conn = conn
            with self._conns_lock:
                self._conns[threading.get_ident()] = conn
        return conn

    def _drop_connection(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        with self._conns_lock:
            self._conns.pop(threading.get_ident(), None)
        if conn is not None:
            try:
                conn.close()
            except DBAPIError:  # pragma: no cover - the connection is already gone
                conn.invalidate()

    def _connect(self, attempt: int) -> Connection | None:
        """This thread's (SQLite) or a pooled (PostgreSQL) connection; None: try again.

        A store that cannot be reached is a StoreError saying so at once (a
        busy SQLite file, e.g. being switched to WAL by another process, is
        retried like a busy transaction).
        """
        try:
            return self._connection() if self._persistent else self.engine.connect()
        except DBAPIError as exc:
            if self._persistent and is_transient(exc) and attempt < RETRIES:
                return None
            raise StoreError(
                f"cannot connect to the store at {self.safe_url}: {reason(exc)}"
            ) from exc

    def _run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        delay = 0.01
        for attempt in range(1, RETRIES + 1):
            conn = self._connect(attempt)
            if conn is None:
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
                continue
            if conn.in_transaction():
                raise StoreError("nested store transactions are not supported")
            try:
                with conn.begin():
                    if self._persistent:
                        # pysqlite runs in autocommit mode (see _sqlite_engine); open the
                        # transaction ourselves, taking the write lock up front for writes.
                        driver = conn.connection.driver_connection
                        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # type: ignore[union-attr]
                    elif not write:
                        # PostgreSQL's default (READ COMMITTED) gives each statement its own
                        # snapshot; a read of several statements must see one moment.
                        conn.exec_driver_sql(SNAPSHOT)
                    return work(conn)
            except CastoffError:
                raise
            except DBAPIError as exc:
                self._discard(conn)
                if not is_transient(exc) or attempt == RETRIES:
                    raise StoreError(f"the store failed: {_first_line(exc)}") from exc
            except BaseException:
                self._discard(conn)
                raise
            finally:
                if not self._persistent:
                    conn.close()
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
        raise StoreError("the store failed after retries")  # pragma: no cover - loop returns

    def _discard(self, conn: Connection) -> None:
        if self._persistent:
            self._drop_connection()
        else:
            conn.invalidate()


def _close_all(conns: list[Connection]) -> None:
    for conn in conns:
        try:
            conn.close()
        except DBAPIError:  # pragma: no cover - already gone (e.g. its folder was removed)
            conn.invalidate()


def reason(exc: DBAPIError) -> str:
    """The driver's message, on one line."""
    message = str(exc.orig if exc.orig is not None else exc).strip()
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
