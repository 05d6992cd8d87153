"""The outbox: claimed once, in order per object, retried with a growing delay and given up after a bound; saving a
location queues it for the partner eMSPs in the same transaction."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from roaming.choices import OcpiRole
from roaming.models import ModuleSync, OutboxMessage
from roaming.services.credentials import party_reinvite
from roaming.services.locations import location_save
from roaming.services.outbox import CANCELLED, _claim, outbox_due, outbox_send
from roaming.services.resync import party_resync

from ..factories import (
    LocationFactory,
    OcpiIdentityFactory,
    OcppTagFactory,
    OperatorUserFactory,
    OutboxMessageFactory,
    PartyFactory,
    PartyRoleFactory,
    TariffFactory,
)
from .clients import client_of

pytestmark = pytest.mark.django_db
NOBODY = "http://127.0.0.1:9/ocpi/emsp/2.2.1/locations/DE/ACM/LOC1"  # the discard port: nothing answers


def test_a_claimed_message_is_not_claimed_again_until_the_claim_lapses():
    message = OutboxMessageFactory()
    assert _claim(message.pk) is not None
    assert _claim(message.pk) is None
    OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert _claim(message.pk) is not None


def test_a_message_waits_for_the_older_ones_of_its_object():
    older = OutboxMessageFactory(key="locations:DE:ACM:LOC1")
    newer = OutboxMessageFactory(key="locations:DE:ACM:LOC1", partner=older.partner)
    other = OutboxMessageFactory(key="locations:DE:ACM:LOC2", partner=older.partner)
    assert _claim(newer.pk) is None
    assert _claim(other.pk) is not None
    OutboxMessage.objects.filter(pk=older.pk).update(sent_at=timezone.now())
    assert _claim(newer.pk) is not None


def test_a_failed_push_is_retried_later_then_given_up_and_no_longer_blocks(settings):
    settings.OCPI_PUSH_MAX_ATTEMPTS = 2
    failing = OutboxMessageFactory(key="locations:DE:ACM:LOC1", url=NOBODY)
    newer = OutboxMessageFactory(key="locations:DE:ACM:LOC1", partner=failing.partner, url=NOBODY)

    assert outbox_send(failing.pk) is False
    failing.refresh_from_db()
    assert failing.attempts == 1 and "ConnectError" in failing.last_error and failing.gave_up_at is None
    assert 15 <= (failing.next_attempt_at - timezone.now()).total_seconds() <= 30  # 30 s, jittered down to half
    assert failing.pk not in outbox_due() and outbox_send(failing.pk) is False  # not due yet

    OutboxMessage.objects.filter(pk=failing.pk).update(next_attempt_at=timezone.now())
    outbox_send(failing.pk)
    failing.refresh_from_db()
    assert failing.attempts == 2 and failing.gave_up_at is not None
    assert _claim(newer.pk) is not None  # a given-up message no longer holds its object's later changes


def test_saving_a_location_queues_it_for_partner_emsps_that_receive_locations(account):
    location = LocationFactory(identity__account=account)
    receiving = PartyFactory(account=account, endpoints=[
        {"identifier": "locations", "role": "RECEIVER", "url": "https://emsp.example/ocpi/emsp/2.2.1/locations"}
    ])  # fmt: skip
    PartyRoleFactory(partner=receiving, role=OcpiRole.EMSP)
    PartyFactory(account=account)  # a CPO only, without a locations Receiver endpoint

    with transaction.atomic():
        location.name = "Renamed"
        location_save(location=location)
        (message,) = OutboxMessage.objects.all()
        transaction.set_rollback(True)  # the change is undone, and its message with it
    assert not OutboxMessage.objects.exists()

    location_save(location=location)
    (message,) = OutboxMessage.objects.all()
    identity = location.identity
    assert message.partner == receiving and message.method == "PUT"
    assert (
        message.url
        == f"https://emsp.example/ocpi/emsp/2.2.1/locations/{identity.country_code}/{identity.party_id}/{location.ocpi_id}"
    )
    assert message.body["name"] == "Renamed" and message.key.endswith(f":{location.ocpi_id}")


def test_a_resync_forgets_the_pulls_and_queues_everything_the_partner_receives(account):
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    LocationFactory(identity=identity, ocpi_id="L1")
    TariffFactory(identity=identity, ocpi_id="T1")
    OcppTagFactory(account=account, id_tag="CARD1")
    base = "https://partner.example/ocpi"
    endpoints = [
        {"identifier": "locations", "role": "RECEIVER", "url": f"{base}/emsp/2.2.1/locations"},
        {"identifier": "tariffs", "role": "RECEIVER", "url": f"{base}/emsp/2.2.1/tariffs"},
        {"identifier": "tokens", "role": "RECEIVER", "url": f"{base}/cpo/2.2.1/tokens"},
    ]
    party = PartyFactory(account=account, endpoints=endpoints)  # a CPO
    PartyRoleFactory(partner=party, role="EMSP", country_code="NL", party_id="EXA")
    ModuleSync.objects.create(partner=party, module="tokens", pulled_until=timezone.now())

    assert party_resync(party=party) == 3
    queued = {m.key: m.url for m in OutboxMessage.objects.filter(partner=party)}
    assert queued == {
        "locations:DE:ACM:L1": f"{base}/emsp/2.2.1/locations/DE/ACM/L1",
        "tariffs:DE:ACM:T1": f"{base}/emsp/2.2.1/tariffs/DE/ACM/T1",
        "tokens:DE:ACM:CARD1": f"{base}/cpo/2.2.1/tokens/DE/ACM/CARD1?type=RFID",
    }
    assert ModuleSync.objects.get().pulled_until is None


def test_ending_the_credentials_cancels_what_is_queued_and_nothing_goes_out_without_a_token(client):
    # A push that failed once and waits for its retry, and one waiting behind it.
    party = PartyFactory()
    failed = OutboxMessageFactory(partner=party, url=NOBODY, key="locations:DE:ACM:LOC1")
    outbox_send(failed.pk)
    behind = OutboxMessageFactory(partner=party, url=NOBODY, key="locations:DE:ACM:LOC1")
    other = OutboxMessageFactory(url=NOBODY)  # another partner's: untouched
    failed.refresh_from_db()
    assert failed.attempts == 1 and failed.gave_up_at is None

    assert client_of(party).delete("/ocpi/2.2.1/credentials").status_code == 200

    for message in (failed, behind):
        message.refresh_from_db()
        assert message.cancelled_at is not None and message.gave_up_at is not None and message.sent_at is None
        assert message.last_error == CANCELLED
    OutboxMessage.objects.filter(pk=failed.pk).update(next_attempt_at=timezone.now())
    assert outbox_due() == [other.pk]
    assert outbox_send(failed.pk) is False
    failed.refresh_from_db()
    assert failed.attempts == 1  # not tried again

    # A change that committed alongside the DELETE (the chargers' SQL) is cancelled when its turn comes, unsent.
    late = OutboxMessageFactory(partner=party, url=NOBODY, key="evses:7")
    assert outbox_send(late.pk) is False
    late.refresh_from_db()
    assert (late.attempts, late.last_error, late.cancelled_at is not None) == (0, CANCELLED, True)


@pytest.fixture
def superuser_client(client):
    client.force_login(OperatorUserFactory(username="root", is_superuser=True, account=None))
    return client


def test_the_outbox_admin_shows_cancelled_messages_as_such(superuser_client):
    party = PartyFactory()
    OutboxMessageFactory(partner=party, key="locations:DE:ACM:WAITING")
    OutboxMessageFactory(partner=party, key="locations:DE:ACM:SENT", sent_at=timezone.now())
    party_reinvite(party=party)  # a new token A also ends the credentials
    OutboxMessageFactory(partner=PartyFactory(), key="locations:DE:ACM:OTHER")

    cancelled = superuser_client.get("/admin/roaming/outboxmessage/", {"status": "cancelled"}).content.decode()
    assert "locations:DE:ACM:WAITING" in cancelled and "SENT" not in cancelled and "OTHER" not in cancelled
    assert '<td class="field-status">cancelled</td>' in cancelled
    waiting = superuser_client.get("/admin/roaming/outboxmessage/", {"status": "waiting"}).content.decode()
    assert "locations:DE:ACM:OTHER" in waiting and "WAITING" not in waiting

    # "Retry now" leaves a cancelled message of a partner that is not registered alone.
    message = OutboxMessage.objects.get(key="locations:DE:ACM:WAITING")
    page = superuser_client.post(
        "/admin/roaming/outboxmessage/", {"action": "retry_now", "_selected_action": [message.pk]}, follow=True
    )
    assert "0 message(s) queued again." in page.content.decode()
    message.refresh_from_db()
    assert message.cancelled_at is not None
