"""The OCPP 1.6J endpoint end to end: a live Daphne process, chargers speaking literal OCPP-J JSON."""

import asyncio
import json
from datetime import timedelta

import pytest
import websockets
from django.utils import timezone

from ocpp_core.models import (
    ChargeBox,
    ChargerEvent,
    Connector,
    ConnectorStatus,
    MeterValue,
    OcppMessage,
    Transaction,
    UnknownChargeBox,
)
from ocpp_core.selectors import with_latest_meter
from powerfill.accounts.services import api_token_create

from ..factories import (
    ChargeBoxFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagPermissionFactory,
    TransactionFactory,
)
from .conftest import assert_reconnected, eventually, reconnect_and_operate
from .ocpp_client import handshake_status, raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

NOW = "2026-03-01T10:00:00Z"


@pytest.fixture
def station(account):
    """CB-1 on a node where ALLOWED, BLOCKED, EXPIRED and BUSY hold permissions (NOPERM holds none)."""
    node = NodeFactory(account=account, name="Garage")
    box = ChargeBoxFactory(account=account, charge_box_id="CB-1", node=node)
    parent = OcppTagFactory(account=account, id_tag="FLEET")
    tags = {
        "ALLOWED": OcppTagFactory(
            account=account, id_tag="ALLOWED", parent=parent, expiry_date=timezone.now() + timedelta(days=30)
        ),
        "BLOCKED": OcppTagFactory(account=account, id_tag="BLOCKED", max_active_transaction_count=0),
        "EXPIRED": OcppTagFactory(account=account, id_tag="EXPIRED", expiry_date=timezone.now() - timedelta(days=1)),
        "BUSY": OcppTagFactory(account=account, id_tag="BUSY", max_active_transaction_count=1),
        "NOPERM": OcppTagFactory(account=account, id_tag="NOPERM"),
    }
    for id_tag in ("ALLOWED", "BLOCKED", "EXPIRED", "BUSY"):
        OcppTagPermissionFactory(ocpp_tag=tags[id_tag], node=node)
    TransactionFactory(charge_box=ChargeBoxFactory(account=account, node=node), ocpp_tag=tags["BUSY"])
    return box


def test_boot_heartbeat_and_status_are_answered_and_stored(daphne_server, station):
    ChargeBox.objects.filter(pk=station.pk).update(heartbeat_interval=120)

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            boot = await charger.call(
                "BootNotification",
                {
                    "chargePointVendor": "Alpitronic",
                    "chargePointModel": "HYC300",
                    "chargePointSerialNumber": "ACE9876543",
                    "chargeBoxSerialNumber": "BOX-1",
                    "firmwareVersion": "2.1.4",
                    "iccid": "8949020000012345678",
                    "imsi": "262011234567890",
                    "meterType": "Iskra WS1102",
                    "meterSerialNumber": "MTR-42",
                },
            )
            heartbeat = await charger.call("Heartbeat", {})
            status = await charger.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": NOW, "info": "plug"},
            )
            await charger.call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"})
            connected = await asyncio.to_thread(lambda: ChargeBox.objects.get(pk=station.pk).is_connected)
            return boot, heartbeat, status, connected

    boot, heartbeat, status, connected = run(scenario())
    assert boot[0] == 3 and boot[2]["status"] == "Accepted" and boot[2]["interval"] == 120
    assert boot[2]["currentTime"].endswith("Z")
    assert heartbeat[0] == 3 and "currentTime" in heartbeat[2]
    assert status == [3, status[1], {}]
    assert connected
    box = ChargeBox.objects.get(pk=station.pk)
    assert (box.charge_point_vendor, box.charge_point_model, box.charge_point_serial_number) == (
        "Alpitronic",
        "HYC300",
        "ACE9876543",
    )
    assert (box.charge_box_serial_number, box.firmware_version, box.iccid, box.imsi) == (
        "BOX-1",
        "2.1.4",
        "8949020000012345678",
        "262011234567890",
    )
    assert (box.meter_type, box.meter_serial_number, box.ocpp_protocol) == ("Iskra WS1102", "MTR-42", "ocpp1.6")
    assert box.last_heartbeat_at is not None
    assert Connector.objects.get(charge_box=box, connector_id=1).status == "Preparing"
    assert list(ConnectorStatus.objects.filter(charge_box=box).values_list("connector_id", "status")) == [
        (0, "Available"),
        (1, "Preparing"),
    ]
    assert eventually(lambda: not ChargeBox.objects.get(pk=station.pk).is_connected)


def test_authorize_answers_each_status(daphne_server, station):
    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            await charger.boot()
            return {
                id_tag: (await charger.call("Authorize", {"idTag": id_tag}))[2]["idTagInfo"]
                for id_tag in ("ALLOWED", "allowed", "UNKNOWN", "BLOCKED", "EXPIRED", "NOPERM", "BUSY")
            }

    answers = run(scenario())
    assert answers["ALLOWED"]["status"] == "Accepted"
    assert answers["ALLOWED"]["parentIdTag"] == "FLEET"
    assert answers["ALLOWED"]["expiryDate"].endswith("Z")
    assert answers["allowed"]["status"] == "Accepted"  # idTags are case-insensitive (CiString)
    assert {tag: info["status"] for tag, info in answers.items() if tag not in ("ALLOWED", "allowed")} == {
        "UNKNOWN": "Invalid",
        "BLOCKED": "Blocked",
        "EXPIRED": "Expired",
        "NOPERM": "Invalid",
        "BUSY": "ConcurrentTx",
    }


def test_a_session_start_meter_values_stop(daphne_server, station):
    signed = "OCMF|" + json.dumps({"FV": "1.0", "RD": [{"RV": 1.234, "RI": "1-b:1.8.0"}]}) + "|" + "A" * 6000

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            await charger.boot()
            start = await charger.call(
                "StartTransaction", {"connectorId": 1, "idTag": "ALLOWED", "meterStart": 1000, "timestamp": NOW}
            )
            transaction_id = start[2]["transactionId"]
            meter = await charger.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": transaction_id,
                    "meterValue": [
                        {
                            "timestamp": "2026-03-01T10:15:00Z",
                            "sampledValue": [
                                {"value": "2.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                                {
                                    "value": "16.1",
                                    "measurand": "Current.Import",
                                    "phase": "L1",
                                    "unit": "A",
                                    "context": "Sample.Periodic",
                                    "location": "Outlet",
                                },
                                {"value": "230.2", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                                {"value": signed, "format": "SignedData", "context": "Transaction.End"},
                            ],
                        }
                    ],
                },
            )
            stop = await charger.call(
                "StopTransaction",
                {
                    "transactionId": transaction_id,
                    "meterStop": 4000,
                    "timestamp": "2026-03-01T10:30:00Z",
                    "idTag": "ALLOWED",
                    "reason": "EVDisconnected",
                    "transactionData": [
                        {
                            "timestamp": "2026-03-01T10:30:00Z",
                            "sampledValue": [{"value": "4000", "context": "Transaction.End"}],
                        }
                    ],
                },
            )
            return start, meter, stop, transaction_id

    start, meter, stop, transaction_id = run(scenario())
    assert start[2]["idTagInfo"]["status"] == "Accepted"
    assert meter[2] == {} and stop[2]["idTagInfo"]["status"] == "Accepted"
    tx = Transaction.objects.get(pk=transaction_id)
    assert (tx.connector_id, tx.id_tag, tx.meter_start, tx.meter_stop, tx.stop_reason) == (
        1,
        "ALLOWED",
        1000,
        4000,
        "EVDisconnected",
    )
    assert tx.started_at.isoformat() == "2026-03-01T10:00:00+00:00"
    assert tx.energy_wh == 3000
    running_energy = with_latest_meter(Transaction.objects.filter(pk=tx.pk)).get().latest_meter
    assert running_energy == 4000  # the newest register reading: transactionData's 4000 Wh, after 2.5 kWh
    values = {(v.measurand, v.phase): v for v in MeterValue.objects.filter(transaction=tx)}
    assert values[("Current.Import", "L1")].numeric_value == 16.1
    assert values[("Voltage", "L1-N")].unit == "V"
    assert values[("", "")].context == "Transaction.End"  # from transactionData, measurand left as sent (absent)
    signed_value = MeterValue.objects.get(transaction=tx, format="SignedData")
    assert signed_value.value == signed and signed_value.numeric_value is None  # verbatim, several KB


def test_a_start_repeated_after_a_reconnect_gets_the_same_transaction(daphne_server, station):
    start = {"connectorId": 1, "idTag": "ALLOWED", "meterStart": 1000, "timestamp": NOW}

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            first = await charger.call("StartTransaction", start)
        async with raw_charger(daphne_server, "CB-1") as charger:  # no BootNotification after the reconnect
            again = await charger.call("StartTransaction", start)
        return first, again

    first, again = run(scenario())
    assert first[2]["transactionId"] == again[2]["transactionId"]
    assert Transaction.objects.filter(charge_box=station).count() == 1


def test_start_with_a_refused_tag_still_records_the_session(daphne_server, station):
    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            return await charger.call(
                "StartTransaction", {"connectorId": 1, "idTag": "NOPERM", "meterStart": 0, "timestamp": NOW}
            )

    answer = run(scenario())
    assert answer[2]["idTagInfo"]["status"] == "Invalid"
    assert Transaction.objects.get(pk=answer[2]["transactionId"]).start_status == "Invalid"


def test_a_clock_not_yet_set_does_not_date_the_session_1970(daphne_server, station):
    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            return await charger.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": "ALLOWED", "meterStart": 0, "timestamp": "1970-01-01T00:00:07Z"},
            )

    answer = run(scenario())
    started_at = Transaction.objects.get(pk=answer[2]["transactionId"]).started_at
    assert abs((timezone.now() - started_at).total_seconds()) < 60
    again = run(scenario())  # replayed after a reconnect, still with the unset clock
    assert again[2]["transactionId"] == answer[2]["transactionId"]
    assert Transaction.objects.filter(charge_box=station).count() == 1


def test_stopping_a_transaction_we_never_issued_is_acknowledged_and_kept(daphne_server, station):
    running = TransactionFactory(charge_box=station, ocpp_tag__account=station.account)

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            return [
                await charger.call(
                    "StopTransaction", {"transactionId": tx_id, "meterStop": 500, "timestamp": NOW, "idTag": "ALLOWED"}
                )
                for tx_id in (-1, 987654)
            ]

    answers = run(scenario())
    assert [answer[0] for answer in answers] == [3, 3]
    assert answers[0][2]["idTagInfo"]["status"] == "Accepted"
    events = ChargerEvent.objects.filter(charge_box=station, kind="UnknownStopTransaction")
    assert sorted(e.payload["transactionId"] for e in events) == [-1, 987654]
    running.refresh_from_db()
    assert running.stopped_at is None


def test_a_reconnect_replaces_the_old_socket(daphne_server, station):
    _, token = api_token_create(account=station.account)
    seen = reconnect_and_operate(
        old_server=daphne_server,
        new_server=daphne_server,
        operate_through=daphne_server,
        charge_box=station,
        token=token,
        list_version=17,
    )
    assert_reconnected(seen, "CB-1", 17)


def test_malformed_frames_answer_callerror_and_the_connection_stays(daphne_server, station):
    frames = [
        ("not json at all", "-1", "FormationViolation"),
        ('{"an": "object"}', "-1", "FormationViolation"),
        ("[]", "-1", "FormationViolation"),
        ('[9, "a1", "Heartbeat", {}]', "a1", "ProtocolError"),
        ('[2, "a2", "Heartbeat"]', "a2", "ProtocolError"),
        ('[2, 42, "Heartbeat", {}]', "-1", "FormationViolation"),
        ('[2, "a3", "Heartbeat", []]', "a3", "FormationViolation"),
        ('[2, "a4", "FlyToTheMoon", {}]', "a4", "NotImplemented"),
        ('[2, "a5", "RemoteStartTransaction", {"idTag": "X"}]', "a5", "NotSupported"),
        ('[2, "a6", "Authorize", {}]', "a6", "OccurenceConstraintViolation"),
        ('[2, "a7", "Authorize", {"idTag": 12}]', "a7", "TypeConstraintViolation"),
        ('[2, "a8", "Authorize", {"idTag": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}]', "a8", "PropertyConstraintViolation"),
        (
            '[2, "a9", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}]',
            "a9",
            "PropertyConstraintViolation",
        ),
        ('[2, "b1", "Heartbeat", {"extra": 1}]', "b1", "FormationViolation"),
        (
            '[2, "b2", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0, '
            '"timestamp": "yesterday"}]',
            "b2",
            "PropertyConstraintViolation",
        ),
        (  # OCPP's integers are 32-bit: a larger meter reading is the charger's error, not ours
            '[2, "b3", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 2147483648, '
            '"timestamp": "2026-01-01T00:00:00Z"}]',
            "b3",
            "PropertyConstraintViolation",
        ),
        (
            '[2, "b4", "StatusNotification", {"connectorId": -2147483649, "errorCode": "NoError", '
            '"status": "Available"}]',
            "b4",
            "PropertyConstraintViolation",
        ),
    ]

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            answers = [await charger.send_raw(text) for text, _, _ in frames]
            await charger.socket.send(b"\x00binary")
            binary = await charger.response()
            still = await charger.call("Heartbeat", {})
            return answers, binary, still

    answers, binary, still = run(scenario())
    for (text, unique_id, code), answer in zip(frames, answers, strict=True):
        assert answer[:3] == [4, unique_id, code], text
        assert isinstance(answer[3], str) and isinstance(answer[4], dict)
    assert binary[:3] == [4, "-1", "FormationViolation"]
    assert still[0] == 3


def test_frames_over_the_size_limit_are_refused(daphne_server, station):
    huge = json.dumps([2, "big1", "DataTransfer", {"vendorId": "acme", "data": "x" * 20_000}])

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            refused = await charger.send_raw(huge)
            still = await charger.call("Heartbeat", {})
            return refused, still

    refused, still = run(scenario())
    assert refused[:3] == [4, "big1", "GenericError"] and "16384" in refused[3]
    assert still[0] == 3
    assert not ChargerEvent.objects.filter(kind="DataTransfer").exists()


def test_charger_notifications_are_stored(daphne_server, station):
    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            return [
                await charger.call(action, payload)
                for action, payload in [
                    ("DataTransfer", {"vendorId": "com.acme", "messageId": "temp", "data": "41.5"}),
                    ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
                    ("FirmwareStatusNotification", {"status": "Installed"}),
                    (
                        "SecurityEventNotification",
                        {"type": "TamperDetectionActivated", "timestamp": NOW, "techInfo": "lid open"},
                    ),
                    ("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END"}),
                    ("LogStatusNotification", {"status": "Uploading", "requestId": 7}),
                    ("SignedFirmwareStatusNotification", {"status": "SignatureVerified", "requestId": 8}),
                ]
            ]

    answers = run(scenario())
    assert answers[0][2] == {"status": "UnknownVendorId"}
    assert answers[4][2] == {"status": "Rejected"}  # no CA here unless OCPP_ACCEPT_CERTIFICATE_SIGNING_REQUESTS
    assert all(answer[0] == 3 for answer in answers)
    kinds = set(ChargerEvent.objects.filter(charge_box=station).values_list("kind", flat=True))
    assert kinds == {
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "LogStatusNotification",
        "SignedFirmwareStatusNotification",
    }
    station.refresh_from_db()
    assert (station.firmware_status, station.diagnostics_status) == ("SignatureVerified", "Uploaded")
    tamper = ChargerEvent.objects.get(kind="SecurityEventNotification")
    assert tamper.payload["tech_info"] == "lid open" and tamper.timestamp.year == 2026


def test_every_frame_is_logged_per_charger(daphne_server, station):
    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            await charger.call("Heartbeat", {}, unique_id="log-me")
            await charger.send_raw("garbage")

    run(scenario())
    logged = eventually(lambda: list(OcppMessage.objects.filter(charge_box=station).order_by("pk")), timeout=5)
    assert [(m.direction, m.message_type, m.unique_id, m.action) for m in logged] == [
        ("in", 2, "log-me", "Heartbeat"),
        ("out", 3, "log-me", ""),
        ("in", None, "", ""),
        ("out", 4, "-1", ""),
    ]
    assert logged[2].payload == "garbage"


def test_a_pending_charger_may_only_boot(daphne_server, station):
    ChargeBox.objects.filter(pk=station.pk).update(registration_status="Pending")

    async def scenario():
        async with raw_charger(daphne_server, "CB-1") as charger:
            boot = await charger.boot()
            heartbeat = await charger.call("Heartbeat", {})
            await asyncio.to_thread(
                lambda: ChargeBox.objects.filter(pk=station.pk).update(registration_status="Accepted")
            )
            boot_again = await charger.boot()
            heartbeat_again = await charger.call("Heartbeat", {})
            return boot, heartbeat, boot_again, heartbeat_again

    boot, heartbeat, boot_again, heartbeat_again = run(scenario())
    assert boot[2]["status"] == "Pending"
    assert heartbeat[:3] == [4, heartbeat[1], "SecurityError"]
    assert boot_again[2]["status"] == "Accepted" and heartbeat_again[0] == 3


class TestHandshake:
    def test_an_unknown_charger_is_refused_and_listed_for_adoption(self, daphne_server, uvicorn_server, db):
        assert run(handshake_status(uvicorn_server, "NEW-CHARGER-7")) == 404
        assert run(handshake_status(daphne_server, "NEW-CHARGER-7")) == 403  # Daphne has no denial response
        unknown = UnknownChargeBox.objects.get(charge_box_id="NEW-CHARGER-7")
        assert unknown.attempts == 2 and unknown.subprotocols == "ocpp1.6"

    def test_a_handshake_without_the_ocpp_subprotocol_is_refused(self, daphne_server, uvicorn_server, station):
        assert run(handshake_status(uvicorn_server, "CB-1", subprotocols=())) == 400
        assert run(handshake_status(daphne_server, "CB-1", subprotocols=("ocpp2.0.1",))) == 403

    def test_basic_auth_with_the_chargers_password(self, daphne_server, uvicorn_server, station):
        station.set_auth_password("a-charger-password-16+")
        station.save()
        assert run(handshake_status(uvicorn_server, "CB-1", password="a-charger-password-16+")) == "open"
        assert run(handshake_status(daphne_server, "CB-1", password="a-charger-password-16+")) == "open"
        assert run(handshake_status(uvicorn_server, "CB-1", password="wrong-password-0000")) == 401
        assert run(handshake_status(uvicorn_server, "CB-1")) == 401
        assert run(handshake_status(uvicorn_server, "CB-1", password="a-charger-password-16+", username="CB-2")) == 401
        assert run(handshake_status(daphne_server, "CB-1", password="wrong-password-0000")) == 403

    def test_a_changed_password_replaces_the_verified_one(self, uvicorn_server, station):
        """The server remembers verified passwords (PBKDF2 is slow on purpose): a change must still apply at once."""
        station.set_auth_password("first-password-0000")
        station.save()
        assert run(handshake_status(uvicorn_server, "CB-1", password="first-password-0000")) == "open"
        assert run(handshake_status(uvicorn_server, "CB-1", password="first-password-0000")) == "open"  # remembered
        station.set_auth_password("second-password-000")
        station.save()
        assert run(handshake_status(uvicorn_server, "CB-1", password="first-password-0000")) == 401
        assert run(handshake_status(uvicorn_server, "CB-1", password="second-password-000")) == "open"

    def test_security_profile_3_needs_the_terminators_certificate_header(self, uvicorn_server, station):
        ChargeBox.objects.filter(pk=station.pk).update(require_client_certificate=True)

        async def attempt(cn):
            headers = {"X-Client-Cert-CN": cn} if cn else {}
            try:
                async with websockets.connect(
                    uvicorn_server.replace("http", "ws") + "/ocpp/CB-1",
                    subprotocols=["ocpp1.6"],
                    additional_headers=headers,
                ):
                    return "open"
            except websockets.InvalidStatus as refusal:
                return refusal.response.status_code

        assert run(attempt("CB-1")) == "open"
        assert run(attempt("CB-2")) == 403
        assert run(attempt(None)) == 403
