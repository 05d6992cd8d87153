"""Pushing our changes to partners through the outbox (roaming.models.OutboxMessage): enqueued in the transaction of
the change, sent by Celery, claimed so that no two workers send one message, in order per object, retried with a
growing, jittered delay a bounded number of times."""

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .. import ocpi211
from ..choices import OcpiRole, RegistrationState
from ..client import OcpiClientError, ocpi_request
from ..models import OutboxMessage, Party
from ..selectors import routing_headers
from .evses import evse_message_build
from .sessions import NothingToSend, session_message_build

logger = logging.getLogger(__name__)
CLAIM = timedelta(seconds=60)  # longer than one call may take (client timeout 15 s); a dead worker's claim lapses
FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS = 30, 3600
DRAIN_SPACING_SECONDS = 1.0  # the chargers' changes start at most one drain a second per server process
CANCELLED = "Cancelled: the partner's credentials ended before it was sent."


def outbox_enqueue(*, partner: Party, key: str, method: str, url: str, body) -> OutboxMessage:
    """Call inside the transaction that makes the change: the message exists exactly if the change does."""
    message = OutboxMessage.objects.create(
        partner=partner, key=key, method=method, url=url, body=body, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: _send_soon(message.pk))
    return message


def outbox_put_to_partners(
    *, account_id: int, partner_role: str, module: str, ids: tuple[str, ...], body: dict, body_211=None, query=""
) -> int:
    """Queue a PUT of one of our objects for every registered partner of the account in `partner_role` (see
    outbox_put). Call inside the transaction of the change; returns how many were queued."""
    partners = Party.objects.filter(
        account_id=account_id, state=RegistrationState.REGISTERED, roles__role=partner_role
    ).distinct()
    return sum(
        outbox_put(partner=partner, module=module, ids=ids, body=body, body_211=body_211, query=query)
        for partner in partners
    )


def outbox_put(*, partner: Party, module: str, ids: tuple[str, ...], body: dict, body_211=None, query="") -> bool:
    """Queue a PUT of one of our objects (`ids`: its path below the module's URL) for the partner if it receives the
    module; `body_211` is the object for an OCPI 2.1.1 partner (None: not sent to one). Returns whether it did."""
    legacy = partner.version == ocpi211.VERSION
    url = partner.endpoint_url(module, "RECEIVER")
    if url is None or (legacy and body_211 is None):
        return False
    outbox_enqueue(
        partner=partner,
        key=f"{module}:{':'.join(ids)}",
        method="PUT",
        url=f"{url.rstrip('/')}/{'/'.join(quote(part, safe='') for part in ids)}{query}",
        body=body_211 if legacy else body,
    )
    return True


def outbox_send(message_pk: int) -> bool:
    """Send one message if it is due, unclaimed and the oldest unsent one of its object; True if it was sent."""
    message = _claim(message_pk)
    if message is None:
        return False
    partner = message.partner
    if partner.state != RegistrationState.REGISTERED or not partner.outgoing_token:
        # Queued before the credentials ended (a charger's change committing alongside the DELETE): no token to send
        # it with, and no partner to send it to.
        _cancelled(OutboxMessage.objects.filter(pk=message.pk))
        return False
    try:
        if message.build_at_send:
            message.url, message.body = _build(message)
            message.save(update_fields=["url", "body"])  # what was sent, for the admin
        ocpi_request(
            message.method,
            message.url,
            token=partner.outgoing_token,
            plain_token=partner.plain_token_header,
            body=message.body,
            routing=routing_headers(partner, to_role=_receiving_role(message.key)),
        )
    except NothingToSend as reason:
        message.gave_up_at, message.claimed_until, message.last_error = timezone.now(), None, str(reason)
        message.save(update_fields=["gave_up_at", "claimed_until", "last_error"])
        return False
    except OcpiClientError as error:
        _failed(message, error)
        return False
    except Exception as error:  # a bug or bad data: counted like a failure, so it is given up in the end
        logger.exception("Outbox message %s could not be sent", message.pk)
        _failed(message, error)
        return False
    message.sent_at = timezone.now()
    message.claimed_until = None
    message.save(update_fields=["sent_at", "claimed_until"])
    successor = _pending(message.partner_id, message.key).values_list("pk", flat=True).first()
    if successor is not None:
        _send_soon(successor)
    return True


def outbox_due(limit: int = 1000) -> list[int]:
    """The messages to send now, oldest first (Celery beat drains them; retries come due here). One behind an older
    unsent message of its object is not due: its turn comes when that one is sent."""
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(sent_at=None, gave_up_at=None, next_attempt_at__lte=now)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .filter(~Exists(_older_pending()))
        .values_list("pk", flat=True)[:limit]
    )


def outbox_cancel(*, partner: Party) -> int:
    """The partner's credentials ended: what is unsent to it is never sent (shown as cancelled). Returns how many."""
    return _cancelled(OutboxMessage.objects.filter(partner=partner, sent_at=None, gave_up_at=None))


def outbox_drain_soon() -> None:
    """The chargers' SQL queued messages (it writes outbox rows without waking a worker): drain the outbox once those
    are committed. Call after the commit; it returns at once (the event loop's callers must not wait for partners).
    A burst of changes makes one drain: one runs at a time, and requests meanwhile make one more after it. With a
    broker the drain is a task for a worker (and Celery beat's drain still catches what this misses); with eager
    Celery (the quick start, no beat) it runs here, on a thread of its own."""
    _drainer.request()


def outbox_purge(*, older_than_days: int | None = None) -> int:
    """Forget sent and given-up messages older than OCPI_OUTBOX_RETENTION_DAYS (Celery beat, daily); returns how
    many. What is unsent stays, however old."""
    days = settings.OCPI_OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    done = Q(sent_at__lt=cutoff) | Q(gave_up_at__lt=cutoff)
    return OutboxMessage.objects.filter(done).delete()[0]


def _pending(partner_id: int, key: str):
    return OutboxMessage.objects.filter(partner_id=partner_id, key=key, sent_at=None, gave_up_at=None)


def _older_pending():
    """Unsent messages of the same object as the outer one, and older (its predecessors, which go first)."""
    return OutboxMessage.objects.filter(
        partner=OuterRef("partner"), key=OuterRef("key"), sent_at=None, gave_up_at=None
    ).filter(Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")))


def _claim(message_pk: int) -> OutboxMessage | None:
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_pk, sent_at=None, gave_up_at=None, next_attempt_at__lte=now)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .filter(~Exists(_older_pending()))
        .update(claimed_until=now + CLAIM)
    )
    return OutboxMessage.objects.select_related("partner").get(pk=message_pk) if claimed else None


def _cancelled(messages) -> int:
    now = timezone.now()
    return messages.update(gave_up_at=now, cancelled_at=now, claimed_until=None, last_error=CANCELLED)


def _failed(message: OutboxMessage, error: Exception) -> None:
    now = timezone.now()
    message.attempts += 1
    message.last_error = str(error)[:2000]
    message.claimed_until = None
    if message.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS:
        message.gave_up_at = now  # the partner's next pull brings it the object as it is then
    else:
        delay = min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (message.attempts - 1))
        message.next_attempt_at = now + timedelta(seconds=delay * random.uniform(0.5, 1.0))
    message.save(update_fields=["attempts", "last_error", "claimed_until", "gave_up_at", "next_attempt_at"])


def _receiving_role(key: str) -> str:
    """Tokens go to CPOs; locations, sessions, CDRs, tariffs, EVSE changes and command results to eMSPs."""
    return OcpiRole.CPO if key.startswith("tokens:") else OcpiRole.EMSP


def _build(message: OutboxMessage) -> tuple[str, dict]:
    """URL and body of a message made when it is sent, by the module its key names."""
    builders = {"sessions": session_message_build, "evses": evse_message_build}
    return builders[message.key.split(":", 1)[0]](message)


def _send_soon(message_pk: int) -> None:
    from ..tasks import outbox_send_task

    outbox_send_task.delay(message_pk)


class _Drainer:
    """outbox_drain_soon()'s thread: at most one drain runs and one waits, whatever the number of requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpi-outbox-drain")

    def request(self) -> None:
        with self._lock:
            if self._waiting:
                return
            self._waiting = True
        self._thread.submit(self._drain)

    def _drain(self) -> None:
        from ..tasks import outbox_drain_task

        with self._lock:
            self._waiting = False  # changes committed from now on need another drain
        close_old_connections()  # outside the request cycle: a connection the database dropped is replaced
        try:
            outbox_drain_task.delay()
        except Exception:
            logger.exception("The outbox could not be drained")
        finally:
            close_old_connections()
        time.sleep(DRAIN_SPACING_SECONDS)


_drainer = _Drainer()
