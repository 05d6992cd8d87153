"""Sessions and CDRs we push as CPO to the eMSP of each roaming session. The chargers' SQL queues a message per
change (roaming.services.session_events); here it is made into a request when it is sent: a session PUT of the
session as it is then, or, once it ended, the POST of its CDR, which is issued (priced and stored) the first time
and never changed afterwards."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from ocpp_core.models import Transaction

from .. import ocpi211
from ..models import Cdr, OutboxMessage
from ..sessions import cdr_object, session_facts, session_object
from .session_events import CDR_POST, SESSION_PUT


class NothingToSend(Exception):
    """The message cannot become a request (the partner lists no endpoint for it, or the session is not one OCPI
    can tell); it is given up with this reason."""


def session_message_build(message: OutboxMessage) -> tuple[str, dict]:
    """The URL and body of a session message: PUT of the session, or POST of its CDR."""
    transaction_id = int(message.key.split(":", 1)[1])
    tx = Transaction.objects.select_related("charge_box__node", "ocpp_tag__partner_token__partner").get(
        pk=transaction_id
    )
    facts = session_facts(tx)
    if facts is None:
        raise NothingToSend("The session is at no published location, or not by a partner's token.")
    partner = message.partner
    legacy = partner.version == ocpi211.VERSION
    if message.method == SESSION_PUT:
        url = partner.endpoint_url("sessions", "RECEIVER")
        if url is None:
            raise NothingToSend("The partner lists no sessions Receiver endpoint.")
        body = session_object(facts)
        target = f"{url.rstrip('/')}/{body['country_code']}/{body['party_id']}/{body['id']}"
        return target, ocpi211.session_as_211(body, location=facts.location_object) if legacy else body
    if message.method == CDR_POST:
        url = partner.endpoint_url("cdrs", "RECEIVER")
        if url is None:
            raise NothingToSend("The partner lists no cdrs Receiver endpoint.")
        body = cdr_issue(tx, facts=facts).data
        return url, ocpi211.cdr_as_211(body, location=facts.location_object) if legacy else body
    raise NothingToSend(f"No session message is sent with {message.method}.")


def cdr_issue(tx: Transaction, *, facts=None) -> Cdr:
    """The CDR of an ended roaming session: made once (priced by the tariff version in force at its start), then
    returned as it was made."""
    existing = Cdr.objects.filter(transaction=tx).first()
    if existing is not None:
        return existing
    if tx.is_active:
        raise NothingToSend("The session has not ended: no CDR yet.")
    facts = facts or session_facts(tx)
    if facts is None:
        raise NothingToSend("The session is at no published location, or not by a partner's token.")
    issued_at = timezone.now()
    cdr_id = f"{facts.location.identity.party_id}{tx.pk}"
    try:
        with transaction.atomic():
            return Cdr.objects.create(
                partner=facts.token.partner,
                transaction=tx,
                ocpi_id=cdr_id,
                data=cdr_object(facts, cdr_id=cdr_id, issued_at=issued_at),
            )
    except IntegrityError:  # issued by another worker a moment ago
        return Cdr.objects.get(transaction=tx)


def cdrs_issue_pending(*, partner=None, limit: int = 500) -> int:
    """Issue the CDRs of ended roaming sessions that have none yet (whether or not their push went out: a partner
    may only pull CDRs, and a push can be given up). Celery beat runs it with the outbox drain; the CDR list runs
    it for its partner before answering. Returns how many were issued."""
    ended = Transaction.objects.filter(
        stopped_at__isnull=False, ocpp_tag__partner_token__isnull=False, ocpi_cdr__isnull=True
    ).select_related("charge_box__node", "ocpp_tag__partner_token__partner")
    if partner is not None:
        ended = ended.filter(ocpp_tag__partner_token__partner=partner)
    issued = 0
    for tx in ended.order_by("stopped_at")[:limit]:
        try:
            cdr_issue(tx)
        except NothingToSend:
            continue  # at no published location: OCPI cannot tell it
        issued += 1
    return issued
