"""The per-charger log of every OCPP-J frame, written in batches.

One INSERT per frame would double the database work of a busy central system; frames are buffered in the server
process and written every half second (or every 500 frames). A process that dies loses at most that half second of
log; the business data (transactions, meter values, statuses) is written synchronously by the services.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..choices import MessageDirection
from ..db import ocpp_db
from ..models import ChargeBox, OcppMessage

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5
FLUSH_SIZE = 500


LOG_COLUMNS = ("charge_box_id", "direction", "message_type", "unique_id", "action", "payload", "created_at")
LogRow = tuple[int, str, int | None, str, str, str, datetime]


class MessageLog:
    def __init__(self):
        self._pending: list[LogRow] = []
        self._flusher: asyncio.Task | None = None

    def record(
        self,
        *,
        charge_box_pk: int,
        direction: MessageDirection,
        frame: str,
        message_type: int | None = None,
        unique_id: str = "",
        action: str = "",
    ) -> None:
        if not settings.OCPP_MESSAGE_LOG_ENABLED:
            return
        self._pending.append(
            (
                charge_box_pk,
                direction,
                message_type,
                unique_id[:64] if isinstance(unique_id, str) else "",
                action[:64] if isinstance(action, str) else "",
                frame,
                timezone.now(),
            )
        )
        if len(self._pending) >= FLUSH_SIZE:
            self._schedule(0)
        elif (
            self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not asyncio.get_running_loop()
        ):
            self._schedule(FLUSH_INTERVAL)

    def _schedule(self, delay: float) -> None:
        self._flusher = asyncio.get_running_loop().create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            try:
                await ocpp_db(message_log_write)(rows=batch)
            except Exception:  # the log must never take a charger down with it
                logger.exception("Could not write %d OCPP log messages", len(batch))


def message_log_write(*, rows: list[LogRow]) -> None:
    """Insert a batch; frames of chargers deleted meanwhile are dropped instead of failing the batch."""
    try:
        with transaction.atomic():
            _insert(rows)
    except IntegrityError:
        existing = set(ChargeBox.objects.filter(pk__in={row[0] for row in rows}).values_list("pk", flat=True))
        with transaction.atomic():
            _insert([row for row in rows if row[0] in existing])


def _insert(rows: list[LogRow]) -> None:
    # One statement text for every batch, run with executemany: psycopg pipelines it and parses it once (the
    # ORM's bulk_create, or one multi-row INSERT per batch size, spent more CPU than the rest of the logging).
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {OcppMessage._meta.db_table} ({', '.join(LOG_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(LOG_COLUMNS))})",
            [(*row[:6], adapt(row[6])) for row in rows],
        )


def message_log_prune(*, now=None) -> int:
    """Delete frames older than OCPP_MESSAGE_LOG_RETENTION_DAYS; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OCPP_MESSAGE_LOG_RETENTION_DAYS)
    deleted, _ = OcppMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted


message_log = MessageLog()
