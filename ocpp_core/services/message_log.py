"""The per-charger log of every OCPP-J frame, written in batches.

One INSERT per frame would double the database work of a busy central system; frames are buffered in the server
process and written every half second (or every 500 frames). A process that dies loses at most that half second of
log; the business data (transactions, meter values, statuses) is written synchronously by the services.
"""

import asyncio
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..choices import MessageDirection
from ..db import ocpp_db
from ..models import ChargeBox, OcppMessage

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5
FLUSH_SIZE = 500


class MessageLog:
    def __init__(self):
        self._pending: list[OcppMessage] = []
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
            OcppMessage(
                charge_box_id=charge_box_pk,
                direction=direction,
                message_type=message_type,
                unique_id=(unique_id or "")[:64] if isinstance(unique_id, str) else "",
                action=(action or "")[:64] if isinstance(action, str) else "",
                payload=frame,
                created_at=timezone.now(),
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
                await ocpp_db(message_log_write)(messages=batch)
            except Exception:  # the log must never take a charger down with it
                logger.exception("Could not write %d OCPP log messages", len(batch))


def message_log_write(*, messages: list[OcppMessage]) -> None:
    """Insert a batch; frames of chargers deleted meanwhile are dropped instead of failing the batch."""
    try:
        with transaction.atomic():
            OcppMessage.objects.bulk_create(messages)
    except IntegrityError:
        existing = set(
            ChargeBox.objects.filter(pk__in={m.charge_box_id for m in messages}).values_list("pk", flat=True)
        )
        OcppMessage.objects.bulk_create([m for m in messages if m.charge_box_id in existing])


def message_log_prune(*, now=None) -> int:
    """Delete frames older than OCPP_MESSAGE_LOG_RETENTION_DAYS; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OCPP_MESSAGE_LOG_RETENTION_DAYS)
    deleted, _ = OcppMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted


message_log = MessageLog()
