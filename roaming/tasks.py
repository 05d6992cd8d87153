from celery import shared_task

from .choices import RegistrationState
from .client import OcpiClientError
from .models import Party
from .services.commands import command_run
from .services.outbox import outbox_due, outbox_purge, outbox_send
from .services.pull import PULLS, pulled_modules
from .services.sessions import cdrs_issue_pending


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
