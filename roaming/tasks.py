import logging
import threading

from celery import shared_task
from django.db import close_old_connections

from .choices import RegistrationState
from .client import OcpiClientError
from .models import Party
from .services.commands import command_run
from .services.outbox import outbox_due, outbox_purge, outbox_send
from .services.pull import PULLS, pulled_modules
from .services.resync import party_resync
from .services.sessions import cdrs_issue_pending

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(OcpiClientError,), retry_backoff=30, retry_backoff_max=600, retry_jitter=True, max_retries=5
)
def partner_module_pull_task(party_pk: int, module: str) -> int:
    party = Party.objects.filter(pk=party_pk, state=RegistrationState.REGISTERED).first()
    if party is None:
        return 0  # unregistered or deleted meanwhile
    return PULLS[module](party=party)


@shared_task
def partners_pull_task() -> int:
    """Celery beat: every module that registered partners send us (their Sender interfaces) is pulled,
    incrementally; returns how many pulls were queued."""
    queued = 0
    for party in Party.objects.filter(state=RegistrationState.REGISTERED):
        for module in pulled_modules(party):
            partner_module_pull_task.delay(party.pk, module)
            queued += 1
    return queued


@shared_task
def outbox_send_task(message_pk: int) -> bool:
    return outbox_send(message_pk)


@shared_task
def outbox_drain_task() -> int:
    """Celery beat: CDRs of ended sessions not issued yet, then what is due (new messages whose task was lost, session
    changes queued by the chargers, and retries)."""
    cdrs_issue_pending()
    due = outbox_due()
    for message_pk in due:
        outbox_send_task.delay(message_pk)
    return len(due)


@shared_task
def command_run_task(received_pk: int) -> str:
    received = command_run(received_pk)
    return received.result if received else ""


@shared_task
def outbox_purge_task() -> int:
    """Celery beat, daily: sent and given-up messages older than OCPI_OUTBOX_RETENTION_DAYS."""
    return outbox_purge()


@shared_task
def party_sync_task(party_pk: int) -> int:
    """The initial sync with a partner that just registered (either way round): everything we own that it receives
    is queued for it, and every module it sends us is pulled. Returns how many objects were queued."""
    party = Party.objects.filter(pk=party_pk, state=RegistrationState.REGISTERED).first()
    if party is None:
        return 0  # unregistered or deleted meanwhile
    queued = party_resync(party=party)
    for module in pulled_modules(party):
        try:
            partner_module_pull_task.delay(party.pk, module)
        except OcpiClientError as error:  # eager Celery runs the pull here: the other modules are pulled still
            logger.warning("The initial pull of %s from partner %s failed: %s", module, party, error)
    return queued


def party_sync_start(party_pk: int, *, wait_seconds: float = 0) -> None:
    """Queue party_sync_task (call it from transaction.on_commit), `wait_seconds` from now. With eager Celery (no
    worker) a wait runs on a timer thread of its own, so the request that registered is answered first."""
    if not wait_seconds:
        party_sync_task.delay(party_pk)
    elif party_sync_task.app.conf.task_always_eager:
        timer = threading.Timer(wait_seconds, _party_sync_here, args=(party_pk,))
        timer.daemon = True  # a server that stops meanwhile skips it: the admin's Re-sync does the same
        timer.start()
    else:
        party_sync_task.apply_async((party_pk,), countdown=wait_seconds)


def _party_sync_here(party_pk: int) -> None:
    close_old_connections()  # outside the request cycle: a connection the database dropped is replaced
    try:
        party_sync_task.delay(party_pk)
    except Exception:
        logger.exception("The initial sync with partner %s failed", party_pk)
    finally:
        close_old_connections()
