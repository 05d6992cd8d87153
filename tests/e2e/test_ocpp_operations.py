"""CSMS-initiated operations through POST /api/v1/operations/{Action}, answered by a live test charger."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ocpp_core.models import (
    ChargeBox,
    ChargingProfileAssignment,
    InstalledCertificate,
    LocalAuthListEntry,
    OcppMessage,
    OperationTask,
    Reservation,
)
from ocpp_core.secret_masking import MASK
from powerfill.accounts.services import api_token_create

from ..factories import (
    ChargeBoxFactory,
    ChargingProfileFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
    TransactionFactory,
)
from ..live import PROJECT_DIR
from .conftest import api_call
from .ocpp_client import handshake_status, raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
IN_AN_HOUR = (timezone.now() + timedelta(hours=1)).isoformat()


@pytest.fixture
def world(account):
    node = NodeFactory(account=account, name="Depot")
    box = ChargeBoxFactory(account=account, charge_box_id="OP-1", node=node)
    ChargeBoxFactory(account=account, charge_box_id="OP-OFFLINE", node=node)
    tag = OcppTagFactory(account=account, id_tag="DRIVER")
    OcppTagPermissionFactory(ocpp_tag=tag, node=node)
    OcppTagFactory(account=account, id_tag="STRANGER")
    member = OcppTagFactory(account=account, id_tag="MEMBER", max_active_transaction_count=0)
    OcppTagGroupPermissionFactory(ocpp_tag_group=OcppTagGroupFactory(account=account, ocpp_tags=[member]), node=node)
    _, token = api_token_create(account=account)
    return box, token


async def operate(server, token, action, body, *, answer=None, error=None, charger_id="OP-1"):
    """Connect the test charger, send the operation through the API, answer the CALL; returns (CALL, status, body)."""
    async with raw_charger(server, charger_id) as charger:
        await charger.boot()
        loop = asyncio.get_running_loop()
        request = loop.run_in_executor(None, api_call, server, "POST", f"/api/v1/operations/{action}", token, body)
        call = None
        if answer is not None or error is not None:
            call = await charger.next_call()
            if error:
                await charger.reply_error(call, *error)
            else:
                await charger.reply(call, answer)
        status, response = await request
        return call, status, response


OPERATIONS = [
    # action, extra params, what the charger must receive, its answer, what the API reports
    (
        "ChangeAvailability",
        {"availType": "Inoperative", "connectorId": 1},
        {"connectorId": 1, "type": "Inoperative"},
        {"status": "Scheduled"},
        "Scheduled",
    ),
    (
        "ChangeConfiguration",
        {"keyType": "PREDEFINED", "confKey": "MeterValueSampleInterval", "value": "30"},
        {"key": "MeterValueSampleInterval", "value": "30"},
        {"status": "Accepted"},
        "Accepted",
    ),
    (
        "ChangeConfiguration",
        {"keyType": "CUSTOM", "customConfKey": "VendorBrightness", "value": "7"},
        {"key": "VendorBrightness", "value": "7"},
        {"status": "NotSupported"},
        "NotSupported",
    ),
    ("ClearCache", {}, {}, {"status": "Accepted"}, "Accepted"),
    (
        "DataTransfer",
        {"vendorId": "com.acme", "messageId": "ping", "data": "1"},
        {"vendorId": "com.acme", "messageId": "ping", "data": "1"},
        {"status": "Accepted", "data": "pong"},
        {"status": "Accepted", "data": "pong"},
    ),
    (
        "GetConfiguration",
        {"confKeyList": ["HeartbeatInterval"], "commaSeparatedCustomConfKeys": "Foo, Bar"},
        {"key": ["HeartbeatInterval", "Foo", "Bar"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["Foo", "Bar"],
        },
        {
            "configurationKeys": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKeys": ["Foo", "Bar"],
        },
    ),
    (
        "RemoteStartTransaction",
        {"idTag": "DRIVER", "connectorId": 2},
        {"idTag": "DRIVER", "connectorId": 2},
        {"status": "Accepted"},
        "Accepted",
    ),
    ("Reset", {"resetType": "Soft"}, {"type": "Soft"}, {"status": "Rejected"}, "Rejected"),
    ("UnlockConnector", {"connectorId": 1}, {"connectorId": 1}, {"status": "Unlocked"}, "Unlocked"),
    (
        "GetDiagnostics",
        {"location": "ftp://logs.example.com/", "retries": 2, "start": "2026-01-01T00:00:00Z"},
        {"location": "ftp://logs.example.com/", "retries": 2, "startTime": "2026-01-01T00:00:00.000Z"},
        {"fileName": "diag-1.zip"},
        {"fileName": "diag-1.zip"},
    ),
    (
        "UpdateFirmware",
        {"location": "https://fw.example.com/2.3.bin", "retrieveDateTime": "2026-05-01T02:00:00Z"},
        {"location": "https://fw.example.com/2.3.bin", "retrieveDate": "2026-05-01T02:00:00.000Z"},
        {},
        "OK",
    ),
    ("GetLocalListVersion", {}, {}, {"listVersion": 4}, 4),
    (
        "GetCompositeSchedule",
        {"connectorId": 1, "durationInSeconds": 3600, "chargingRateUnit": "A"},
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
        {"status": "Rejected"},
        {"status": "Rejected"},
    ),
    (
        "TriggerMessage",
        {"triggerMessage": "StatusNotification", "connectorId": 1},
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "Accepted"},
        "Accepted",
    ),
    (
        "ClearChargingProfile",
        {"filterType": "OtherParameters", "connectorId": 1, "chargingProfilePurpose": "TxProfile"},
        {"connectorId": 1, "chargingProfilePurpose": "TxProfile"},
        {"status": "Unknown"},
        "Unknown",
    ),
    (
        "ExtendedTriggerMessage",
        {"triggerMessage": "LogStatusNotification"},
        {"requestedMessage": "LogStatusNotification"},
        {"status": "Accepted"},
        "Accepted",
    ),
    (
        "InstallCertificate",
        {"certificateType": "CentralSystemRootCertificate", "certificate": "-----BEGIN CERT"},
        {"certificateType": "CentralSystemRootCertificate", "certificate": "-----BEGIN CERT"},
        {"status": "Accepted"},
        "Accepted",
    ),
    (
        "GetLog",
        {"logType": "SecurityLog", "location": "https://logs.example.com/up"},
        {"logType": "SecurityLog", "log": {"remoteLocation": "https://logs.example.com/up"}},
        {"status": "Accepted", "filename": "sec.log"},
        {"status": "Accepted", "filename": "sec.log"},
    ),
    (
        "SignedUpdateFirmware",
        {
            "location": "https://fw.example.com/s.bin",
            "retrieveDateTime": "2026-05-01T02:00:00Z",
            "signingCertificate": "PEM",
            "signature": "SIG",
        },
        {
            "firmware": {
                "location": "https://fw.example.com/s.bin",
                "retrieveDateTime": "2026-05-01T02:00:00.000Z",
                "signingCertificate": "PEM",
                "signature": "SIG",
            }
        },
        {"status": "Accepted"},
        "Accepted",
    ),
    (
        "CertificateSigned",
        {"certificateChain": "-----BEGIN CERTIFICATE-----"},
        {"certificateChain": "-----BEGIN CERTIFICATE-----"},
        {"status": "Accepted"},
        "Accepted",
    ),
]


@pytest.mark.parametrize(
    ("action", "params", "sent", "answer", "reported"),
    OPERATIONS,
    ids=[f"{op[0]}-{i}" for i, op in enumerate(OPERATIONS)],
)
def test_the_operation_reaches_the_charger_and_its_answer_comes_back(
    daphne_server, world, action, params, sent, answer, reported
):
    _, token = world
    call, status, body = run(
        operate(daphne_server, token, action, {"chargeBoxIdList": ["OP-1"], **params}, answer=answer)
    )
    assert status == 200, body
    assert call[2] == action
    for key, value in sent.items():
        assert call[3][key] == value, key
    assert body["successResponses"] == [{"chargeBoxId": "OP-1", "response": reported}]
    assert (body["errorResponses"], body["exceptions"], body["taskFinished"]) == ([], [], True)
    task = OperationTask.objects.get(pk=body["taskId"])
    assert task.action == action and task.success_responses == body["successResponses"]


def test_several_chargers_offline_callerror_and_timeout(daphne_server, world, account):
    _, token = world
    ChargeBox.objects.filter(charge_box_id="OP-OFFLINE").update(is_connected=False)

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as charger:
            loop = asyncio.get_running_loop()
            body = {"chargeBoxIdList": ["OP-1", "OP-OFFLINE"], "resetType": "Hard"}
            request = loop.run_in_executor(
                None, api_call, daphne_server, "POST", "/api/v1/operations/Reset", token, body
            )
            call = await charger.next_call()
            await charger.reply_error(call, "NotSupported", "Hard reset is disabled")
            first = await request
            silent = loop.run_in_executor(
                None,
                api_call,
                daphne_server,
                "POST",
                "/api/v1/operations/ClearCache",
                token,
                {"chargeBoxIdList": ["OP-1"]},
            )
            await charger.next_call()  # and never answer: the 3 s call timeout of the test server runs out
            return first, await silent

    (status, body), (silent_status, silent_body) = run(scenario())
    assert status == 200
    assert body["errorResponses"] == [
        {
            "chargeBoxId": "OP-1",
            "errorCode": "NotSupported",
            "errorDescription": "Hard reset is disabled",
            "errorDetails": "",
        }
    ]
    assert body["exceptions"] == [{"chargeBoxId": "OP-OFFLINE", "exceptionMessage": "The charge box is not connected."}]
    assert silent_status == 200
    assert silent_body["taskFinished"] is False
    assert silent_body["exceptions"][0]["exceptionMessage"].startswith("No answer within 3 s")


def test_a_call_still_queued_when_its_time_is_up_is_never_sent(daphne_server, world):
    """The charger gets one call at a time. A call that waited behind silent ones until the operation gave up on it
    must not reach the charger afterwards: the operator was told it failed."""
    _, token = world

    def clear_cache():
        return api_call(daphne_server, "POST", "/api/v1/operations/ClearCache", token, {"chargeBoxIdList": ["OP-1"]})

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as charger:
            await charger.boot()
            loop = asyncio.get_running_loop()
            requests = [loop.run_in_executor(None, clear_cache)]
            await charger.next_call()  # the first is at the charger, which never answers
            requests += [loop.run_in_executor(None, clear_cache) for _ in range(2)]
            answers = await asyncio.gather(*requests)
            calls = 1
            while True:
                try:
                    await charger.next_call(timeout=1)
                    calls += 1
                except TimeoutError:
                    return answers, calls

    answers, calls = run(scenario())
    messages = [body["exceptions"][0]["exceptionMessage"] for _, body in answers]
    assert messages[0] == "No answer within 3 s."
    assert sorted(messages[1:]) == ["No answer within 3 s.", "Not sent: the charger was busy with earlier calls."]
    assert calls == 2  # the first, then one of the two waiting; the third never


def test_a_call_in_flight_fails_cleanly_when_the_charger_reconnects(daphne_server, world):
    _, token = world

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as old:
            loop = asyncio.get_running_loop()
            request = loop.run_in_executor(
                None,
                api_call,
                daphne_server,
                "POST",
                "/api/v1/operations/ClearCache",
                token,
                {"chargeBoxIdList": ["OP-1"]},
            )
            await old.next_call()
            async with raw_charger(daphne_server, "OP-1"):  # the same charger comes back on a new socket
                return await request

    status, body = run(scenario())
    assert status == 200
    assert body["exceptions"] == [
        {"chargeBoxId": "OP-1", "exceptionMessage": "The charger's connection closed before it answered."}
    ]


def test_invalid_operation_requests_are_400_and_send_nothing(daphne_server, world, other_account):
    _, token = world
    ChargeBoxFactory(account=other_account, charge_box_id="THEIRS")
    cases = [
        ("Reset", {"chargeBoxIdList": ["OP-1"], "resetType": "Gentle"}, "resetType"),
        ("Reset", {"chargeBoxIdList": [], "resetType": "Soft"}, "chargeBoxIdList"),
        ("Reset", {"chargeBoxIdList": ["THEIRS"], "resetType": "Soft"}, "chargeBoxIdList"),
        ("RemoteStartTransaction", {"chargeBoxIdList": ["OP-1", "OP-OFFLINE"], "idTag": "DRIVER"}, "chargeBoxIdList"),
        ("ChangeConfiguration", {"chargeBoxIdList": ["OP-1"], "keyType": "PREDEFINED", "value": "1"}, "confKey"),
        (
            "ChangeConfiguration",
            {"chargeBoxIdList": ["OP-1"], "keyType": "PREDEFINED", "confKey": "AuthorizationKey", "value": "short"},
            "value",
        ),
        (
            "ReserveNow",
            {"chargeBoxIdList": ["OP-1"], "connectorId": 1, "idTag": "DRIVER", "expiry": "2001-01-01T00:00:00Z"},
            "expiry",
        ),
    ]
    for action, body, field in cases:
        status, answer = api_call(daphne_server, "POST", f"/api/v1/operations/{action}", token, body)
        assert status == 400 and field in answer.get("fieldErrors", {}), (action, status, answer)
    status, _ = api_call(daphne_server, "POST", "/api/v1/operations/LaunchRocket", token, {"chargeBoxIdList": ["OP-1"]})
    assert status == 404
    assert not OperationTask.objects.exists()


def test_remote_start_asks_the_permission_resolver_first(daphne_server, world):
    _, token = world
    for id_tag, reason in (("STRANGER", "Invalid"), ("MEMBER", "Blocked"), ("NOBODY", "Invalid")):
        _, status, body = run(
            operate(daphne_server, token, "RemoteStartTransaction", {"chargeBoxIdList": ["OP-1"], "idTag": id_tag})
        )
        assert status == 200
        assert body["exceptions"] == [
            {"chargeBoxId": "OP-1", "exceptionMessage": f"idTag {id_tag} may not charge at OP-1: {reason}."}
        ]


def test_remote_stop_only_for_a_running_transaction(daphne_server, world):
    box, token = world
    running = TransactionFactory(charge_box=box, ocpp_tag__account=box.account)
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "RemoteStopTransaction",
            {"chargeBoxIdList": ["OP-1"], "transactionId": running.pk},
            answer={"status": "Accepted"},
        )
    )
    assert call[3] == {"transactionId": running.pk} and body["successResponses"][0]["response"] == "Accepted"
    _, _, body = run(
        operate(daphne_server, token, "RemoteStopTransaction", {"chargeBoxIdList": ["OP-1"], "transactionId": 424242})
    )
    assert body["exceptions"][0]["exceptionMessage"] == "No running transaction 424242 at OP-1."


def test_a_reservation_holds_the_connector_for_its_tag(daphne_server, world, account):
    _, token = world
    other = OcppTagFactory(account=account, id_tag="OTHER")
    OcppTagPermissionFactory(ocpp_tag=other, node=ChargeBox.objects.get(charge_box_id="OP-1").node)
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "ReserveNow",
            {"chargeBoxIdList": ["OP-1"], "connectorId": 0, "idTag": "DRIVER", "expiry": IN_AN_HOUR},
            answer={"status": "Accepted"},
        )
    )
    reservation = Reservation.objects.get()
    assert call[3]["reservationId"] == reservation.pk and call[3]["idTag"] == "DRIVER"
    assert body["successResponses"][0]["response"] == "Accepted" and reservation.status == "Accepted"

    async def drivers():
        async with raw_charger(daphne_server, "OP-1") as charger:
            other_tag = await charger.call("Authorize", {"idTag": "OTHER"})
            holder = await charger.call("Authorize", {"idTag": "DRIVER"})
            start = await charger.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "DRIVER",
                    "meterStart": 0,
                    "timestamp": timezone.now().isoformat(),
                    "reservationId": reservation.pk,
                },
            )
            return other_tag, holder, start

    other_tag, holder, start = run(drivers())
    assert other_tag[2]["idTagInfo"]["status"] == "Invalid"  # connector 0 reserved for someone else
    assert holder[2]["idTagInfo"]["status"] == "Accepted"
    assert start[2]["idTagInfo"]["status"] == "Accepted"
    reservation.refresh_from_db()
    assert reservation.status == "Used"

    second = Reservation.objects.create(
        charge_box=reservation.charge_box,
        connector_id=1,
        ocpp_tag=reservation.ocpp_tag,
        expiry=reservation.expiry,
        status="Accepted",
    )
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "CancelReservation",
            {"chargeBoxIdList": ["OP-1"], "reservationId": second.pk},
            answer={"status": "Accepted"},
        )
    )
    assert call[3] == {"reservationId": second.pk}
    second.refresh_from_db()
    assert second.status == "Cancelled"


def test_send_local_list_full_then_differential_from_the_permission_model(daphne_server, world, account):
    box, token = world
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "SendLocalList",
            {"chargeBoxIdList": ["OP-1"], "updateType": "Full"},
            answer={"status": "Accepted"},
        )
    )
    assert call[3]["listVersion"] == 1 and call[3]["updateType"] == "Full"
    assert {e["idTag"]: e["idTagInfo"]["status"] for e in call[3]["localAuthorizationList"]} == {
        "DRIVER": "Accepted",
        "MEMBER": "Blocked",
    }
    assert set(LocalAuthListEntry.objects.filter(charge_box=box).values_list("id_tag", flat=True)) == {
        "DRIVER",
        "MEMBER",
    }

    newcomer = OcppTagFactory(account=account, id_tag="NEWCOMER")
    OcppTagPermissionFactory(ocpp_tag=newcomer, node=box.node)
    from permissions.models import OcppTagGroupPermission

    OcppTagGroupPermission.objects.all().delete()  # MEMBER loses access
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "SendLocalList",
            {"chargeBoxIdList": ["OP-1"], "updateType": "Differential"},
            answer={"status": "Accepted"},
        )
    )
    assert call[3]["listVersion"] == 2
    assert call[3]["localAuthorizationList"] == [
        {"idTag": "NEWCOMER", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "MEMBER"},
    ]
    box.refresh_from_db()
    assert box.local_list_version == 2
    assert set(LocalAuthListEntry.objects.filter(charge_box=box).values_list("id_tag", flat=True)) == {
        "DRIVER",
        "NEWCOMER",
    }


def test_charging_profiles_are_sent_and_remembered(daphne_server, world, account):
    box, token = world
    default = ChargingProfileFactory(
        account=account,
        purpose="TxDefaultProfile",
        stack_level=1,
        periods=[{"startPeriod": 0, "limit": 16.0, "numberPhases": 3}],
    )
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "SetChargingProfile",
            {"chargeBoxIdList": ["OP-1"], "chargingProfilePk": default.pk, "connectorId": 1},
            answer={"status": "Accepted"},
        )
    )
    profile = call[3]["csChargingProfiles"]
    assert call[3]["connectorId"] == 1
    assert profile["chargingProfileId"] == default.pk and profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0, "numberPhases": 3}
    ]
    assert ChargingProfileAssignment.objects.filter(charge_box=box, charging_profile=default).exists()

    tx_profile = ChargingProfileFactory(account=account, purpose="TxProfile")
    _, _, body = run(
        operate(
            daphne_server,
            token,
            "SetChargingProfile",
            {"chargeBoxIdList": ["OP-1"], "chargingProfilePk": tx_profile.pk, "connectorId": 1},
        )
    )
    assert body["exceptions"][0]["exceptionMessage"] == "A TxProfile needs the transactionId it applies to."

    call, _, _ = run(
        operate(
            daphne_server,
            token,
            "ClearChargingProfile",
            {"chargeBoxIdList": ["OP-1"], "filterType": "ChargingProfileId", "chargingProfilePk": default.pk},
            answer={"status": "Accepted"},
        )
    )
    assert call[3] == {"id": default.pk}
    assert not ChargingProfileAssignment.objects.exists()


@pytest.mark.parametrize(
    "key_type, key",
    [("PREDEFINED", "AuthorizationKey"), ("CUSTOM", "authorizationkey")],  # keys are CiStrings in OCPP 1.6
)
def test_changing_the_authorization_key_changes_the_chargers_password(daphne_server, world, key_type, key):
    box, token = world
    box.set_auth_password("the-old-password-123")
    box.save()
    body = {"chargeBoxIdList": ["OP-1"], "keyType": key_type, "value": "the-new-password-456"}
    body["confKey" if key_type == "PREDEFINED" else "customConfKey"] = key

    async def scenario():
        async with raw_charger(daphne_server, "OP-1", password="the-old-password-123") as charger:
            loop = asyncio.get_running_loop()
            request = loop.run_in_executor(
                None, api_call, daphne_server, "POST", "/api/v1/operations/ChangeConfiguration", token, body
            )
            call = await charger.next_call()
            assert call[3] == {"key": key, "value": "the-new-password-456"}  # the charger gets the password
            await charger.reply(call, {"status": "Accepted"})
            return await request

    status, answer = run(scenario())
    assert answer["successResponses"][0]["response"] == "Accepted"
    assert run(handshake_status(daphne_server, "OP-1", password="the-new-password-456")) == "open"
    assert run(handshake_status(daphne_server, "OP-1", password="the-old-password-123")) == 403
    box.refresh_from_db()
    assert not box.configuration  # never stored in clear text
    # Nothing Powerfill keeps holds the new password: every table's every row, and the server's log.
    sent = _logged_frames(box, "ChangeConfiguration")
    assert [frame[3] for frame in sent] == [{"key": key, "value": MASK}]
    assert _tables_holding("the-new-password-456") == []
    assert "the-new-password-456" not in _server_log(daphne_server)
    assert OperationTask.objects.get(action="ChangeConfiguration").params["value"] == MASK


def test_a_charger_echoing_the_new_password_in_its_callerror_has_it_masked(daphne_server, world):
    box, token = world
    body = {
        "chargeBoxIdList": ["OP-1"],
        "keyType": "PREDEFINED",
        "confKey": "AuthorizationKey",
        "value": "an-echoed-password-246",
    }

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as charger:
            await charger.boot()
            loop = asyncio.get_running_loop()
            request = loop.run_in_executor(
                None, api_call, daphne_server, "POST", "/api/v1/operations/ChangeConfiguration", token, body
            )
            call = await charger.next_call()
            await charger.reply_error(call, "PropertyConstraintViolation", f"refused: {call[3]}")
            return await request

    status, answer = run(scenario())
    assert status == 200 and answer["errorResponses"][0]["errorCode"] == "PropertyConstraintViolation"
    assert MASK in answer["errorResponses"][0]["errorDescription"]
    _logged_frames(box, "ChangeConfiguration", answers=True)
    assert _tables_holding("an-echoed-password-246") == []
    assert "an-echoed-password-246" not in _server_log(daphne_server)


@pytest.mark.parametrize("key", ["AuthorizationKey", "authorizationKey"])
def test_a_charger_that_reports_its_authorization_key_has_it_masked(daphne_server, world, key):
    """The security whitepaper makes AuthorizationKey write-only; a charger that reports it anyway has it masked in
    the message log, the operation's answer and the charge box's configuration."""
    box, token = world
    entries = [
        {"key": key, "readonly": False, "value": "a-reported-password-789"},
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    ]
    _, status, body = run(
        operate(
            daphne_server,
            token,
            "GetConfiguration",
            {"chargeBoxIdList": ["OP-1"]},
            answer={"configurationKey": entries},
        )
    )
    assert status == 200
    assert body["successResponses"][0]["response"]["configurationKeys"][0]["value"] == MASK
    box.refresh_from_db()
    assert box.configuration[key]["value"] == MASK
    assert box.configuration["HeartbeatInterval"]["value"] == "300"
    answer = _logged_frames(box, "GetConfiguration", answers=True)[0]
    assert answer[2]["configurationKey"][0] == {"key": key, "readonly": False, "value": MASK}
    assert _tables_holding("a-reported-password-789") == []
    assert "a-reported-password-789" not in _server_log(daphne_server)


def _logged_frames(box, action: str, *, answers: bool = False) -> list:
    """The logged CALLs of `action` to the charger (or the charger's answers to them), once the message log has
    written them (it writes in batches)."""
    deadline = time.monotonic() + 10
    while True:
        calls = OcppMessage.objects.filter(charge_box=box, action=action, message_type=2)
        ids = list(calls.values_list("unique_id", flat=True))
        frames = (
            OcppMessage.objects.filter(charge_box=box, unique_id__in=ids, message_type__in=(3, 4)) if answers else calls
        )
        if ids and frames.exists():
            return [json.loads(payload) for payload in frames.values_list("payload", flat=True)]
        assert time.monotonic() < deadline, f"no logged {action} {'answer' if answers else 'call'}"
        time.sleep(0.1)


def _tables_holding(value: str) -> list[str]:
    """The tables with a row whose text holds `value` (every column read as text, on either backend)."""
    holding = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            if any(value in str(row) for row in cursor.fetchall()):
                holding.append(table)
    return holding


def _server_log(server_url: str) -> str:
    port = server_url.rsplit(":", 1)[1].split("/")[0]
    return next(PROJECT_DIR.joinpath("tmp").glob(f"*-{port}.log")).read_text(errors="replace")


def test_installed_certificates_are_listed_then_deleted_by_id(daphne_server, world):
    box, token = world
    hash_data = {"hashAlgorithm": "SHA256", "issuerNameHash": "a1", "issuerKeyHash": "b2", "serialNumber": "c3"}
    run(
        operate(
            daphne_server,
            token,
            "GetInstalledCertificateIds",
            {"chargeBoxIdList": ["OP-1"], "certificateType": "CentralSystemRootCertificate"},
            answer={"status": "Accepted", "certificateHashData": [hash_data]},
        )
    )
    certificate = InstalledCertificate.objects.get(charge_box=box)
    call, _, body = run(
        operate(
            daphne_server,
            token,
            "DeleteCertificate",
            {"chargeBoxIdList": ["OP-1"], "installedCertificateId": certificate.pk},
            answer={"status": "Accepted"},
        )
    )
    assert call[3] == {"certificateHashData": hash_data}
    assert not InstalledCertificate.objects.exists()


def test_get_configuration_is_kept_on_the_charge_box(daphne_server, world):
    box, token = world
    run(
        operate(
            daphne_server,
            token,
            "GetConfiguration",
            {"chargeBoxIdList": ["OP-1"]},
            answer={"configurationKey": [{"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"}]},
        )
    )
    box.refresh_from_db()
    assert box.configuration == {"ChargeProfileMaxStackLevel": {"value": "3", "readonly": True}}


def test_a_pending_charger_sends_what_it_was_triggered_for_and_takes_no_remote_start(daphne_server, world):
    box, token = world
    ChargeBox.objects.filter(pk=box.pk).update(registration_status="Pending")

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as charger:
            boot = await charger.boot()
            before = await charger.call("StatusNotification", STATUS)  # not asked for: refused
            loop = asyncio.get_running_loop()
            trigger = loop.run_in_executor(
                None,
                api_call,
                daphne_server,
                "POST",
                "/api/v1/operations/TriggerMessage",
                token,
                {"chargeBoxIdList": ["OP-1"], "triggerMessage": "StatusNotification", "connectorId": 1},
            )
            call = await charger.next_call()
            await charger.reply(call, {"status": "Accepted"})
            await trigger
            triggered = await charger.call("StatusNotification", STATUS)
            heartbeat = await charger.call("Heartbeat", {})  # not asked for: still refused
            remote_start = await loop.run_in_executor(
                None,
                api_call,
                daphne_server,
                "POST",
                "/api/v1/operations/RemoteStartTransaction",
                token,
                {"chargeBoxIdList": ["OP-1"], "idTag": "DRIVER"},
            )
            return boot, before, triggered, heartbeat, remote_start

    boot, before, triggered, heartbeat, (status, body) = run(scenario())
    assert boot[2]["status"] == "Pending"
    assert before[:3] == [4, before[1], "SecurityError"]
    assert triggered[0] == 3
    assert heartbeat[:3] == [4, heartbeat[1], "SecurityError"]
    assert status == 200 and body["successResponses"] == []
    assert body["exceptions"] == [
        {
            "chargeBoxId": "OP-1",
            "exceptionMessage": "The charge box's registration is Pending: no RemoteStartTransaction until Accepted.",
        }
    ]


def test_the_operator_rejecting_a_connected_charger_applies_at_once(daphne_server, world):
    box, token = world

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as charger:
            await charger.boot()
            accepted = await charger.call("Heartbeat", {})
            loop = asyncio.get_running_loop()
            status, _ = await loop.run_in_executor(
                None,
                api_call,
                daphne_server,
                "PATCH",
                f"/api/v1/chargeBoxes/{box.pk}",
                token,
                {"registrationStatus": "Rejected"},
            )
            refused = await charger.call("Heartbeat", {})
            return accepted, status, refused

    accepted, status, refused = run(scenario())
    assert accepted[0] == 3 and status == 200
    assert refused[:3] == [4, refused[1], "SecurityError"]


def test_deleting_a_connected_charge_box_closes_its_socket(daphne_server, world):
    box, token = world
    ChargeBox.objects.filter(charge_box_id="OP-OFFLINE").delete()

    async def scenario():
        async with raw_charger(daphne_server, "OP-1") as charger:
            await charger.boot()
            loop = asyncio.get_running_loop()
            status, _ = await loop.run_in_executor(
                None, api_call, daphne_server, "DELETE", f"/api/v1/chargeBoxes/{box.pk}", token, None
            )
            await asyncio.wait_for(charger.socket.wait_closed(), 5)
            return status, charger.socket.close_code

    status, close_code = run(scenario())
    assert status in (200, 204)
    assert close_code == 4001
    assert not ChargeBox.objects.filter(pk=box.pk).exists()
