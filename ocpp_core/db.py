"""Database access from the consumers' event loop.

Two ways in, for two kinds of work:

* `ocpp_database()` runs the SQL of the frequent messages (MeterValues, StatusNotification, Heartbeat, Authorize,
  Start/StopTransaction) without leaving the event loop where it can: on PostgreSQL through psycopg's async
  connection pool (prepared statements, no thread hop). Elsewhere (SQLite: the quick start) the same statements
  run on one thread of their own, one at a time, which is what SQLite does with writes anyway. A thread hop and
  Django's cursor cost twice the CPU of the statement itself (tests/benchmarks/bench_ocpp.py).
  Messages that only write (MeterValues, StatusNotification, Heartbeat) commit together: see GroupCommit.
* `ocpp_db(service)` runs a sync service that uses the ORM (boot, events, reservations: the rare messages) on a
  thread pool. Channels' database_sync_to_async would queue every charger behind one thread instead.

On PostgreSQL an ORM unit takes its connection from Django's pool and gives it back when it ends, and the pool checks
a connection before it hands it out (CONN_HEALTH_CHECKS): after PostgreSQL dropped every connection (a failover, a
restart, a bouncer's idle timeout), the next unit gets a new one instead of failing on a dead one kept by its thread.
Elsewhere (SQLite) Django looks after a thread's connection in close_old_connections(); the threads here do that at
most every CONNECTION_CHECK_SECONDS, and at once after a database error, rather than around every message.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial

import psycopg
from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

logger = logging.getLogger(__name__)

CONNECTION_CHECK_SECONDS = 30.0
# A violated constraint, from either way in (Django's cursor or psycopg's async connections).
INTEGRITY_ERRORS = (IntegrityError, psycopg.IntegrityError)

_executor = ThreadPoolExecutor(max_workers=settings.OCPP_DB_THREADS, thread_name_prefix="ocpp-db")
_last_check = threading.local()


def _checked(func, *args, **kwargs):
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        # PostgreSQL: each unit takes a connection from Django's pool, which checks it (CONN_HEALTH_CHECKS), and
        # gives it back. A connection kept by the thread would be dead after a failover or a restart, and its
        # next unit would fail with it; the pool's check costs one round trip per ORM unit, and these are the
        # rare messages (the frequent ones use OcppDatabase's own pool).
        try:
            return func(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()
    now = time.monotonic()
    # Never inside a transaction: Django closes a connection whose autocommit differs from its setting.
    if now - getattr(_last_check, "at", 0.0) > CONNECTION_CHECK_SECONDS and not connection.in_atomic_block:
        close_old_connections()
        _last_check.at = now
    try:
        return func(*args, **kwargs)
    except DatabaseError:
        _last_check.at = 0.0  # look at the connection before the next use
        raise


def ocpp_db(func: Callable) -> Callable[..., Awaitable]:
    """`await ocpp_db(service)(**kwargs)`: run a sync (ORM) service on the OCPP thread pool."""

    async def call(**kwargs):
        return await asyncio.get_running_loop().run_in_executor(_executor, partial(_checked, func, **kwargs))

    return call


def ocpp_db_threads_close() -> None:
    """Close the connections ocpp_db's threads opened (each thread holds its own): at the end of a test session,
    whose database cannot be dropped while they are open."""
    threads = settings.OCPP_DB_THREADS
    everyone_closed = threading.Barrier(threads)

    def close_mine():
        connection.close()
        everyone_closed.wait(timeout=10)  # holds this thread until every thread took one: each closes its own

    for future in [_executor.submit(close_mine) for _ in range(threads)]:
        future.result()


def adapted(params: Sequence) -> list:
    """Parameters as Django's backend stores them (SQLite keeps naive UTC text, not Python's default format)."""
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(value) if isinstance(value, datetime) else value for value in params]


class Statements:
    """What the hot path asks of a database: one row, or a row count."""

    async def fetchone(self, sql: str, params: Sequence = ()) -> tuple | None:
        raise NotImplementedError

    async def execute(self, sql: str, params: Sequence = ()) -> int:
        raise NotImplementedError

    def transaction(self) -> "asynccontextmanager[None]":
        """`async with statements.transaction():` the statements inside commit together or not at all."""
        raise NotImplementedError

    def pipeline(self) -> "asynccontextmanager[None]":
        """`async with statements.pipeline():` statements inside are sent without waiting for each one's answer; a
        fetchone() waits for those before it, and leaving the block for all. `async with db.pipeline(),
        db.transaction():` makes a transaction of N statements whose answers are not needed two round trips (the
        BEGIN travels with the first statement, the COMMIT with the rest) instead of N + 2: psycopg's CPU per
        round trip was most of what StartTransaction and StopTransaction cost the server. A statement's error
        surfaces at the next wait at the latest, and rolls the transaction back as usual."""
        return contextlib.nullcontext()


Statement = tuple[str, Sequence]

# The database refused a write for what it says (a constraint, a value out of range): only that write fails.
REFUSED_WRITE_ERRORS = (IntegrityError, DataError, psycopg.IntegrityError, psycopg.DataError, OverflowError)
# The connection failed (a database restart, a failover, a dropped socket): worth one more try on another one.
CONNECTION_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


class WriteNotCommitted(Exception):
    """The group commit stopped (the event loop is shutting down) before this write was committed."""


class GroupCommit:
    """The writes of many messages in one transaction, each caller answered once its writes are committed.

    A busy central system receives hundreds of MeterValues, StatusNotifications and Heartbeats a second. Committed
    one by one, each costs a round trip and a WAL flush, which on two cores cost more CPU than the rest of the
    message (tests/benchmarks/bench_ocpp.py). Here the writes that arrive while a batch is being committed wait for
    the next batch: under load the batches grow, at rest a write goes alone at once. Nothing is answered before it
    is durable, so a charger never drops a message we lost.

    Failures stay with their writes. A batch the database refuses (a constraint, a value out of range) is split in
    halves until the refused write is alone: a few extra transactions, not one per write. A batch that loses its
    connection is tried once more after the pool dropped its dead connections; should the first attempt have
    committed after all (the answer lost on the way back), a status or meter reading is then stored twice, which
    is the lesser harm than losing it."""

    MAX_BATCH = 500
    MAX_IN_FLIGHT = 2  # one batch at the database while the next one forms

    def __init__(
        self,
        commit_batch: Callable[[list[list[Statement]]], Awaitable[None]],
        recover: Callable[[], Awaitable[None]],
    ):
        self._commit_batch = commit_batch
        self._recover = recover
        self._pending: list[tuple[list[Statement], asyncio.Future]] = []
        self._in_flight = 0
        # How well the grouping works: writes / batches is the average batch size.
        self.batches = 0
        self.writes = 0

    async def write(self, statements: list[Statement]) -> None:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((statements, future))
        if self._in_flight < self.MAX_IN_FLIGHT:
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._commit_pending())
        # A caller that goes away (the charger disconnected) cancels only its wait: the write stays in the batch.
        await future

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
                try:
                    await self._commit(batch)
                finally:
                    for _, future in batch:  # whatever happened, nobody waits forever
                        _settle(future, WriteNotCommitted())
        finally:
            self._in_flight -= 1

    async def _commit(self, batch: list[tuple[list[Statement], asyncio.Future]]) -> None:
        try:
            await self._commit_once_more_on_a_new_connection(batch)
        except REFUSED_WRITE_ERRORS as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            half = len(batch) // 2
            await self._commit(batch[:half])
            await self._commit(batch[half:])
        except Exception as error:
            if not isinstance(error, CONNECTION_ERRORS):
                logger.exception("Group commit of %d writes failed", len(batch))
            for _, future in batch:
                _settle(future, error)
        else:
            self.batches += 1
            self.writes += len(batch)
            for _, future in batch:
                _settle(future)

    async def _commit_once_more_on_a_new_connection(self, batch) -> None:
        writes = [statements for statements, _ in batch]
        try:
            await self._commit_batch(writes)
        except CONNECTION_ERRORS:
            await self._recover()
            await self._commit_batch(writes)


def _settle(future: asyncio.Future, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
        future.exception()  # retrieved: a caller that went away leaves no "never retrieved" warning


class OcppDatabase:
    """The consumers' way to the database: sessions for the statements of messages that read, group-committed
    writes for messages that only write, and bulk appends."""

    def __init__(self):
        self.group_commit = GroupCommit(self._commit_batch, self._recover)

    def session(self) -> "asynccontextmanager[Statements]":
        """`async with db.session() as statements:` one connection for several statements (one message's)."""
        raise NotImplementedError

    async def write(self, *statements: Statement) -> None:
        """Run one message's writes, committed together (they all happen or none) and with other messages' writes
        waiting at the same moment; returns when they are durable."""
        await self.group_commit.write(list(statements))

    async def _commit_batch(self, writes: list[list[Statement]]) -> None:
        """Run the writes' statements in one transaction, each write's in its order."""
        raise NotImplementedError

    async def _recover(self) -> None:
        """After a connection failed: let go of connections that failed with it."""

    async def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """Append many rows in one go, in one transaction."""
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of the database connections."""


def statement_rounds(writes: list[list[Statement]]) -> list[tuple[str, list[Sequence]]]:
    """The statements of a batch of writes as (sql, [params, ...]) to run in this order: every write's first
    statement, then every write's second, and so on; within a round, the same SQL together. Each write's own
    statements keep their order. Writes of one batch come from different messages waiting at the same moment, and a
    charger waits for the answer to one message before it sends the next, so their order among each other is no
    order the chargers gave."""
    rounds: list[dict[str, list[Sequence]]] = []
    for statements in writes:
        for position, (sql, params) in enumerate(statements):
            if position == len(rounds):
                rounds.append({})
            rounds[position].setdefault(sql, []).append(params)
    return [(sql, params) for same_position in rounds for sql, params in same_position.items()]


class _PsycopgStatements(Statements):
    def __init__(self, conn):
        self.conn = conn
        self._pipeline = None

    async def fetchone(self, sql, params=()):
        cursor = await self.conn.execute(sql, params)
        return await cursor.fetchone()

    async def execute(self, sql, params=()):
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount

    @asynccontextmanager
    async def transaction(self):
        # BEGIN and COMMIT as plain statements: psycopg's Transaction object (savepoints, nesting, status checks we
        # do not need) cost as much CPU as the statements themselves; in a pipeline they travel with the others.
        await self.conn.execute("BEGIN", prepare=False)
        try:
            yield
        except BaseException:
            if self._pipeline is None:  # in a pipeline, leaving it rolls back (below)
                await self._rollback_if_open()
            raise
        await self.conn.execute("COMMIT", prepare=False)

    @asynccontextmanager
    async def pipeline(self):
        # A refused statement surfaces at the next wait, which may be the sync on leaving the pipeline, after the
        # COMMIT was queued: the transaction is then left aborted on the connection, and is rolled back here so
        # the connection is clean for the next message.
        try:
            async with self.conn.pipeline() as self._pipeline:
                yield
        except BaseException:
            self._pipeline = None
            await self._rollback_if_open()
            raise
        finally:
            self._pipeline = None

    async def _rollback_if_open(self) -> None:
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(Exception):  # a lost connection: the pool discards it
                await self.conn.execute("ROLLBACK", prepare=False)


class PostgresOcppDatabase(OcppDatabase):
    """psycopg's async pool, in autocommit; statements seen often are prepared by the server."""

    def __init__(self):
        from psycopg_pool import AsyncConnectionPool

        params = connection.get_connection_params()
        kwargs = {key: value for key, value in params.items() if key not in ("cursor_factory", "context")}
        # Django's setting decides (DATABASE_PREPARED_STATEMENTS=false leaves it out: nothing prepared, as a
        # transaction-pooling PgBouncer needs).
        kwargs.update(autocommit=True, prepare_threshold=params.get("prepare_threshold"))
        self.pool = AsyncConnectionPool(
            kwargs=kwargs, min_size=1, max_size=settings.OCPP_DB_POOL_SIZE, open=False, name="ocpp"
        )
        self._opened = False
        self._pool_check: asyncio.Task | None = None
        super().__init__()

    async def _pool(self):
        if not self._opened:
            await self.pool.open()
            self._opened = True
        return self.pool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Statements]:
        try:
            async with (await self._pool()).connection() as conn:
                yield _PsycopgStatements(conn)
        except CONNECTION_ERRORS:
            # This message fails (the charger sends it again); the pool's other connections probably died with
            # this one (a database restart), so have them checked before the next messages take them.
            self._check_pool_soon()
            raise

    def _check_pool_soon(self) -> None:
        if self._pool_check is None or self._pool_check.done():
            self._pool_check = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self):
        try:
            await self.pool.check()
        except Exception:  # the database may still be down: the pool reconnects when it is back
            logger.warning("Checking the OCPP database pool failed", exc_info=True)

    async def close(self):
        if self._opened:
            await self.pool.close()
            self._opened = False

    async def _commit_batch(self, writes):
        # Pipeline mode: every statement sent at once, one round trip and one commit for the batch. The same
        # statement of many writes (a MeterValues INSERT, a heartbeat UPDATE) goes as one executemany, which costs
        # psycopg less than half the CPU of one execute() each.
        async with (
            (await self._pool()).connection() as conn,
            conn.pipeline(),
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            for sql, params in statement_rounds(writes):
                await cursor.executemany(sql, params)

    async def insert_rows(self, table, columns, rows):
        # Like a group commit, tried once more after the pool dropped its dead connections (a database restart):
        # a copy whose commit got through but whose answer was lost would then be stored twice, the lesser harm.
        try:
            await self._copy_rows(table, columns, rows)
        except CONNECTION_ERRORS:
            await self._recover()
            await self._copy_rows(table, columns, rows)

    async def _copy_rows(self, table, columns, rows):
        # COPY: several times cheaper than INSERTs for a batch.
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        async with (
            (await self._pool()).connection() as conn,
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy(statement) as copy,
        ):
            for row in rows:
                await copy.write_row(row)


class _SerialStatements(Statements):
    def __init__(self, database: "SerialOcppDatabase"):
        self.database = database

    async def fetchone(self, sql, params=()):
        return await self.database._run(self.database._fetchone, sql, params)

    async def execute(self, sql, params=()):
        return await self.database._run(self.database._execute, sql, params)

    @asynccontextmanager
    async def transaction(self):
        # The session holds the thread's turn, so nothing else runs on its connection until the block ends;
        # Django's atomic() is entered and left on that one thread.
        atomic = transaction.atomic()
        await self.database._run(atomic.__enter__)
        try:
            yield
        except BaseException as error:
            await self.database._run(atomic.__exit__, type(error), error, error.__traceback__)
            raise
        else:
            await self.database._run(atomic.__exit__, None, None, None)


class SerialOcppDatabase(OcppDatabase):
    """One thread runs every statement, one at a time (a session holds the turn until it ends)."""

    def __init__(self):
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpp-sql")
        self.turn = asyncio.Lock()
        super().__init__()

    async def close(self):
        async with self.turn:
            await self._run(lambda: connection.close())  # this thread's connection, looked up in the thread
        self.thread.shutdown()

    async def _run(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.thread, partial(_checked, func, *args))

    @staticmethod
    def _fetchone(sql, params):
        with connection.cursor() as cursor:
            cursor.execute(sql, adapted(params))
            return cursor.fetchone()

    @staticmethod
    def _execute(sql, params):
        with connection.cursor() as cursor:
            cursor.execute(sql, adapted(params))
            return cursor.rowcount

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Statements]:
        async with self.turn:
            yield _SerialStatements(self)

    async def _commit_batch(self, writes):
        def run():
            with transaction.atomic(), connection.cursor() as cursor:
                for statements in writes:
                    for sql, params in statements:
                        cursor.execute(sql, adapted(params))

        async with self.turn:
            await self._run(run)

    async def insert_rows(self, table, columns, rows):
        def insert():
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                    [adapted(row) for row in rows],
                )

        async with self.turn:
            await self._run(insert)


_databases: dict[asyncio.AbstractEventLoop, OcppDatabase] = {}


def ocpp_database() -> OcppDatabase:
    """The running event loop's way to the database (one per loop: pools and locks belong to their loop)."""
    loop = asyncio.get_running_loop()
    database = _databases.get(loop)
    if database is None:
        database = PostgresOcppDatabase() if connection.vendor == "postgresql" else SerialOcppDatabase()
        _databases[loop] = database
    return database


async def ocpp_database_close() -> None:
    """Close the running event loop's way to the database (a loop that ends leaves no connections behind)."""
    database = _databases.pop(asyncio.get_running_loop(), None)
    if database is not None:
        await database.close()
