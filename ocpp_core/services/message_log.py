"""The per-charger log of every OCPP-J frame, written in batches.

One INSERT per frame would double the database work of a busy central system; frames are buffered in the server
process and written every half second (or every 500 frames). A process that dies loses at most that half second of
log; the business data (transactions, meter values, statuses) is written synchronously by the services.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ..choices import MessageDirection
from ..db import REFUSED_WRITE_ERRORS, ocpp_database, ocpp_db
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
                _storable(unique_id)[:64],
                _storable(action)[:64],
                _storable(frame),
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
        if self._pending:  # recorded while this flush was writing: nobody else will schedule them
            self._schedule(FLUSH_INTERVAL)

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await _insert_keeping_good_rows(ocpp_database(), batch)
        except Exception:  # the log must never take a charger down with it
            logger.exception("Could not write %d OCPP log messages", len(batch))


async def _insert_keeping_good_rows(database, rows: list[LogRow]) -> None:
    """Insert the rows; should the database refuse the batch, the frames of chargers deleted meanwhile are dropped
    and any row refused still is found by halving, so one cannot lose the rest."""
    try:
        await _insert(database, rows)
    except REFUSED_WRITE_ERRORS:
        await _insert_halving(database, await ocpp_db(_existing_chargers)(rows=rows))


async def _insert_halving(database, rows: list[LogRow]) -> None:
    if not rows:
        return
    try:
        await _insert(database, rows)
    except REFUSED_WRITE_ERRORS:
        if len(rows) == 1:
            logger.warning("OCPP log message refused by the database: %.200r", rows[0])
            return
        half = len(rows) // 2
        await _insert_halving(database, rows[:half])
        await _insert_halving(database, rows[half:])


async def _insert(database, rows: list[LogRow]) -> None:
    await database.insert_rows(OcppMessage._meta.db_table, LOG_COLUMNS, rows)


def _storable(text) -> str:
    """PostgreSQL's text cannot hold NUL, which a broken frame may carry: kept visible, escaped."""
    return text.replace("\x00", "\\u0000") if isinstance(text, str) else ""


def _existing_chargers(*, rows: list[LogRow]) -> list[LogRow]:
    existing = set(ChargeBox.objects.filter(pk__in={row[0] for row in rows}).values_list("pk", flat=True))
    return [row for row in rows if row[0] in existing]


def message_log_prune(*, now=None) -> int:
    """Delete frames older than OCPP_MESSAGE_LOG_RETENTION_DAYS; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OCPP_MESSAGE_LOG_RETENTION_DAYS)
    deleted, _ = OcppMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted


message_log = MessageLog()
