"""Commands, Receiver interface (we are the CPO): a partner eMSP posts START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION or UNLOCK_CONNECTOR. What can be judged at once is answered at once (CommandResponse); an accepted
command is carried out once, after the commit, by a worker (Celery runs eager in the tests), and its result goes to
the eMSP's response_url through the outbox."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from ocpp_core.models import OperationTask
from roaming.choices import OcpiRole
from roaming.models import OutboxMessage, PartnerToken, ReceivedCommand
from roaming.objects import CommandResponseSerializer, CommandResultSerializer
from roaming.services.commands import command_run
from roaming.services.outbox import outbox_send
from roaming.services.partner_tokens import partner_token_put

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    LocationFactory,
    NodeFactory,
    OcpiIdentityFactory,
    PartyFactory,
    PartyRoleFactory,
    TransactionFactory,
)
from .clients import client_of
from .ocpi_examples import example

pytestmark = pytest.mark.django_db
TOKEN = example("token_put_example.json")  # NL*TNM 012345678
COMMANDS = "/ocpi/cpo/2.2.1/commands"
RESPONSE_URL = "http://127.0.0.1:9/ocpi/emsp/2.2.1/commands/result/1"  # the discard port: nothing answers
NOT_CONNECTED = "The charge box is not connected."


def emsp_of(account, *, name: str, country_code: str, party_id: str) -> APIClient:
    # Its versions URL is on the host of RESPONSE_URL: results go only to a partner's own hosts.
    party = PartyFactory(account=account, name=name, versions_url="http://127.0.0.1:9/ocpi/versions")
    PartyRoleFactory(partner=party, role=OcpiRole.EMSP, country_code=country_code, party_id=party_id)
    return client_of(party)


def token_tag(party, token: dict):
    """The OCPP tag the partner's token is presented as at our chargers."""
    uid, country_code, party_id = token["uid"], token["country_code"], token["party_id"]
    partner_token_put(party=party, country_code=country_code, party_id=party_id, token_uid=uid, data=token)
    return party.tokens.get(uid=uid).ocpp_tag


@pytest.fixture
def emsp(account):
    return emsp_of(account, name="New Motion", country_code="NL", party_id="TNM")


@pytest.fixture
def garage(account):
    """Our published location GARAGE: one charge box, offline, with two connectors (EVSEs)."""
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    node = NodeFactory(account=account, name="Garage")
    box = ChargeBoxFactory(node=node, charge_box_id="ACME-1", max_current_a=32)
    connectors = [ConnectorFactory(charge_box=box, connector_id=n, status="Available") for n in (1, 2)]
    LocationFactory(identity=identity, node=node, ocpi_id="GARAGE")
    return SimpleNamespace(box=box, evse_uids=[str(connector.pk) for connector in connectors])


def start(garage, **change) -> dict:
    body = {"response_url": RESPONSE_URL, "token": TOKEN, "location_id": "GARAGE", "evse_uid": garage.evse_uids[0]}
    return {key: value for key, value in {**body, **change}.items() if value is not None}


def reserve(**change) -> dict:
    expiry = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "response_url": RESPONSE_URL,
        "token": TOKEN,
        "expiry_date": expiry,
        "reservation_id": "RES1",
        "location_id": "GARAGE",
    }
    return {**body, **change}


def command(client, name: str, body) -> dict:
    response = client.post(f"{COMMANDS}/{name}", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status_code"] == 1000
    data = response.json()["data"]
    serializer = CommandResponseSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    return data


def test_an_unknown_command_is_not_supported(emsp, garage):
    data = command(emsp, "SELF_DESTRUCT", {"response_url": RESPONSE_URL})
    assert data["result"] == "NOT_SUPPORTED" and "SELF_DESTRUCT" in data["message"][0]["text"]
    assert not ReceivedCommand.objects.exists()


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("START_SESSION", {"token": TOKEN, "location_id": "GARAGE"}, "response_url"),
        ("START_SESSION", {"response_url": "not a url", "token": TOKEN, "location_id": "GARAGE"}, "response_url"),
        ("START_SESSION", {"response_url": RESPONSE_URL, "token": {**TOKEN, "uid": "x" * 37}, "location_id": "GARAGE"},
         "token.uid"),
        ("START_SESSION", {"response_url": RESPONSE_URL, "token": "012345678", "location_id": "GARAGE"}, "token"),
        ("STOP_SESSION", {"response_url": RESPONSE_URL, "session_id": {"id": 1}}, "session_id"),
        ("STOP_SESSION", {"response_url": RESPONSE_URL}, "session_id"),
        ("RESERVE_NOW", {**reserve(), "expiry_date": "in an hour"}, "expiry_date"),
        ("CANCEL_RESERVATION", {"response_url": RESPONSE_URL, "reservation_id": "R" * 37}, "reservation_id"),
        ("UNLOCK_CONNECTOR", {"response_url": RESPONSE_URL, "location_id": "GARAGE", "evse_uid": "1"}, "connector_id"),
    ],
)  # fmt: skip
def test_an_invalid_command_is_a_2001_naming_the_field(emsp, garage, name, body, field):
    response = emsp.post(f"{COMMANDS}/{name}", body, format="json")
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(f"Invalid {name}: {field}: ")
    assert not ReceivedCommand.objects.exists() and not PartnerToken.objects.exists()


def test_invalid_json_is_a_400(emsp, garage):
    response = emsp.generic("POST", f"{COMMANDS}/STOP_SESSION", '{"session_id": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["status_message"].startswith("Invalid JSON")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"location_id": "NOWHERE"}, "Unknown location 'NOWHERE'"),
        ({"evse_uid": "999999"}, "Unknown EVSE '999999'"),
        ({"evse_uid": "3256"}, "Unknown EVSE '3256'"),
        ({"evse_uid": "EVSE-A"}, "Unknown EVSE 'EVSE-A'"),
        ({"connector_id": "2"}, "Unknown connector '2'"),
        ({"evse_uid": None}, "several EVSEs"),
    ],
    ids=["location", "evse", "evse-of-nobody", "evse-not-a-number", "connector", "no-evse-of-two"],
)
def test_a_start_at_an_evse_we_do_not_have_is_rejected_with_a_message(
    emsp, garage, django_capture_on_commit_callbacks, change, says
):
    with django_capture_on_commit_callbacks() as callbacks:
        data = command(emsp, "START_SESSION", start(garage, **change))
    assert data["result"] == "REJECTED" and says in data["message"][0]["text"]
    received = ReceivedCommand.objects.get()
    assert (received.response, received.message) == ("REJECTED", data["message"][0]["text"])
    assert callbacks == [] and received.started_at is None  # nothing for a worker to do
    assert not OutboxMessage.objects.exists() and not OperationTask.objects.exists()


def test_an_evse_of_another_accounts_location_is_not_ours_to_start(emsp, garage, other_account):
    rival = LocationFactory(identity__account=other_account, ocpi_id="RIVAL")
    box = ChargeBoxFactory(node=rival.node)
    evse_uid = str(ConnectorFactory(charge_box=box, connector_id=1).pk)
    assert command(emsp, "START_SESSION", start(garage, location_id="RIVAL"))["result"] == "REJECTED"
    assert command(emsp, "START_SESSION", start(garage, evse_uid=evse_uid))["result"] == "REJECTED"


def test_a_start_with_a_token_of_another_party_is_403_and_nothing_is_kept(emsp, garage):
    body = start(garage, token={**TOKEN, "country_code": "FR", "party_id": "XYZ"})
    response = emsp.post(f"{COMMANDS}/START_SESSION", body, format="json")
    assert response.status_code == 403 and "FR*XYZ" in response.json()["status_message"]
    assert not ReceivedCommand.objects.exists() and not PartnerToken.objects.exists()


def test_stopping_a_session_that_is_not_the_partners_running_one_is_unknown_session(emsp, garage, account):
    rival = emsp_of(account, name="Other Mobility", country_code="FR", party_id="OTH")
    theirs = TransactionFactory(charge_box=garage.box, ocpp_tag=token_tag(rival.party, {
        **TOKEN, "country_code": "FR", "party_id": "OTH", "uid": "OTHERCARD"
    }))  # fmt: skip
    ours = token_tag(emsp.party, TOKEN)
    ended = TransactionFactory(charge_box=garage.box, ocpp_tag=ours, stopped_at=timezone.now(), meter_stop=2000)
    own_card = TransactionFactory(charge_box=garage.box, connector_id=2)  # one of the operator's own cards
    for session_id in (theirs.pk, ended.pk, own_card.pk, 999999, "abc", "9" * 36):
        data = command(emsp, "STOP_SESSION", {"response_url": RESPONSE_URL, "session_id": str(session_id)})
        assert data["result"] == "UNKNOWN_SESSION" and str(session_id) in data["message"][0]["text"]
    assert set(ReceivedCommand.objects.values_list("response", flat=True)) == {"UNKNOWN_SESSION"}
    assert not OutboxMessage.objects.exists()


def accepted_commands(garage, emsp) -> dict:
    tag = token_tag(emsp.party, TOKEN)
    running = TransactionFactory(charge_box=garage.box, ocpp_tag=tag)
    return {
        "START_SESSION": (start(garage), "RemoteStartTransaction", {"idTag": "012345678", "connectorId": 1}),
        "STOP_SESSION": (
            {"response_url": RESPONSE_URL, "session_id": str(running.pk)},
            "RemoteStopTransaction",
            {"transactionId": running.pk},
        ),
        "RESERVE_NOW": (reserve(), "ReserveNow", {"idTag": "012345678", "connectorId": 0}),
        "UNLOCK_CONNECTOR": (
            {
                "response_url": RESPONSE_URL,
                "location_id": "GARAGE",
                "evse_uid": garage.evse_uids[1],
                "connector_id": "1",
            },
            "UnlockConnector",
            {"connectorId": 2},
        ),
    }


@pytest.mark.parametrize("name", ["START_SESSION", "STOP_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR"])
def test_an_accepted_command_runs_once_after_the_commit_and_queues_its_result_for_the_response_url(
    emsp, garage, django_capture_on_commit_callbacks, name
):
    body, action, params = accepted_commands(garage, emsp)[name]
    with django_capture_on_commit_callbacks() as run_soon:
        data = command(emsp, name, body)
    assert data == {"result": "ACCEPTED", "timeout": data["timeout"]} and data["timeout"] > 0
    received = ReceivedCommand.objects.get()
    assert (received.command, received.response, received.result) == (name, "ACCEPTED", "")
    assert received.data == body and received.started_at is None and len(run_soon) == 1
    assert not OutboxMessage.objects.exists()

    with django_capture_on_commit_callbacks() as send_soon:
        done = command_run(received.pk)  # what the worker does
    assert (done.result, done.message) == ("REJECTED", NOT_CONNECTED)
    assert done.started_at and done.finished_at
    task = done.operation_task
    assert task.action == action and task.charge_box_ids == ["ACME-1"]
    assert task.params.items() >= params.items() and task.exceptions[0]["exceptionMessage"] == NOT_CONNECTED
    message = OutboxMessage.objects.get()
    assert (message.partner, message.method, message.url) == (emsp.party, "POST", RESPONSE_URL)
    assert message.body == {"result": "REJECTED", "message": [{"language": "en", "text": NOT_CONNECTED}]}
    assert CommandResultSerializer(data=message.body).is_valid()
    assert message.key == f"commands:{received.pk}" and message.sent_at is None and len(send_soon) == 1

    assert command_run(received.pk) is None  # a second worker, or a redelivered task
    run_soon[0]()  # the task queued at the commit comes too late as well
    assert OutboxMessage.objects.count() == 1 and OperationTask.objects.count() == 1
    assert ReceivedCommand.objects.get().finished_at == done.finished_at


def test_cancelling_a_reservation_we_do_not_know_is_accepted_then_unknown_reservation(
    emsp, garage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        data = command(emsp, "CANCEL_RESERVATION", {"response_url": RESPONSE_URL, "reservation_id": "NOPE"})
    assert data["result"] == "ACCEPTED"
    with django_capture_on_commit_callbacks(execute=False):
        done = command_run(ReceivedCommand.objects.get().pk)
    assert done.result == "UNKNOWN_RESERVATION" and done.operation_task is None
    message = OutboxMessage.objects.get()
    assert message.url == RESPONSE_URL and message.body["result"] == "UNKNOWN_RESERVATION"
    assert message.body["message"][0]["text"] == "No reservation of yours with that id."


@pytest.mark.django_db(transaction=True)
def test_on_a_real_commit_the_command_runs_and_its_result_waits_to_be_retried_when_the_emsp_is_down(account):
    """No captured callbacks: the commit of the request starts the worker (eager in the quick start), which queues
    the result, whose commit sends it; the eMSP does not answer, so it waits for a retry."""
    emsp = emsp_of(account, name="New Motion", country_code="NL", party_id="TNM")
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    node = NodeFactory(account=account, name="Garage")
    box = ChargeBoxFactory(node=node, charge_box_id="ACME-1")
    ConnectorFactory(charge_box=box, connector_id=1)
    LocationFactory(identity=identity, node=node, ocpi_id="GARAGE")
    running = TransactionFactory(charge_box=box, ocpp_tag=token_tag(emsp.party, TOKEN))

    data = command(emsp, "STOP_SESSION", {"response_url": RESPONSE_URL, "session_id": str(running.pk)})

    assert data["result"] == "ACCEPTED"
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # with a broker (the CI's Redis pass) a worker does this
        command_run(ReceivedCommand.objects.get().pk)
        outbox_send(OutboxMessage.objects.get().pk)
    received = ReceivedCommand.objects.get()
    assert (received.result, received.message) == ("REJECTED", NOT_CONNECTED)
    message = OutboxMessage.objects.get()
    assert message.body == {"result": "REJECTED", "message": [{"language": "en", "text": NOT_CONNECTED}]}
    assert message.attempts == 1 and "ConnectError" in message.last_error and "127.0.0.1:9" in message.last_error
    assert message.sent_at is None and message.gave_up_at is None and message.next_attempt_at > timezone.now()
    assert command_run(received.pk) is None and OutboxMessage.objects.count() == 1


@pytest.mark.parametrize("name", ["STOP_SESSION", "START_SESSION"])
def test_an_id_of_unicode_digits_is_an_unknown_session_or_evse_not_a_crash(emsp, garage, name):
    body = {"response_url": RESPONSE_URL, "session_id": "²"} if name == "STOP_SESSION" else start(garage, evse_uid="²")
    data = command(emsp, name, body)
    assert data["result"] == {"STOP_SESSION": "UNKNOWN_SESSION", "START_SESSION": "REJECTED"}[name]


def test_a_reservation_that_expired_already_is_rejected_to_the_emsp(emsp, garage, django_capture_on_commit_callbacks):
    past = (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with django_capture_on_commit_callbacks(execute=False):
        data = command(emsp, "RESERVE_NOW", reserve(expiry_date=past))
    if data["result"] == "REJECTED":  # refused at once: as good as a result
        return
    with django_capture_on_commit_callbacks(execute=False):
        done = command_run(ReceivedCommand.objects.get().pk)
    assert done.result == "REJECTED" and OutboxMessage.objects.get().body["result"] == "REJECTED"


def test_a_response_url_off_the_partners_hosts_is_refused(emsp, garage):
    body = {"response_url": "http://169.254.169.254/latest/meta-data", "session_id": "1"}
    response = emsp.post("/ocpi/cpo/2.2.1/commands/STOP_SESSION", body, format="json")
    assert response.status_code == 400 and response.json()["status_message"].startswith("response_url: not on a host")
    assert not ReceivedCommand.objects.exists()
