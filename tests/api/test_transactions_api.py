from datetime import timedelta

import pytest
from django.utils import timezone

from ocpp_core.models import MeterValue, Transaction

from ..factories import ChargeBoxFactory, OcppTagFactory, TransactionFactory, UserFactory
from .crud import assert_api_error


@pytest.fixture
def history(account, other_account):
    now = timezone.now()
    holder = UserFactory(account=account)
    tag = OcppTagFactory(account=account, id_tag="DRIVER", user=holder)
    box_a = ChargeBoxFactory(account=account, charge_box_id="CB-A")
    box_b = ChargeBoxFactory(account=account, charge_box_id="CB-B")
    transactions = {
        "running": TransactionFactory(charge_box=box_a, connector_id=1, ocpp_tag=tag, started_at=now, meter_start=100),
        "yesterday": TransactionFactory(
            charge_box=box_b,
            connector_id=2,
            ocpp_tag=tag,
            started_at=now - timedelta(days=1),
            meter_start=0,
            stopped_at=now - timedelta(hours=20),
            meter_stop=7000,
            stop_reason="Local",
            stop_event_actor="station",
        ),
        "old": TransactionFactory(
            charge_box=box_b,
            connector_id=1,
            ocpp_tag=None,
            id_tag="ANON",
            started_at=now - timedelta(days=45),
            meter_start=0,
            stopped_at=now - timedelta(days=45),
            meter_stop=10,
        ),
    }
    running = transactions["running"]
    for minutes, reading in ((1, ("0.3", "kWh")), (2, ("600", "Wh"))):  # the newest reading counts, in Wh
        MeterValue.objects.create(
            charge_box=box_a,
            connector_id=1,
            transaction=running,
            timestamp=now + timedelta(minutes=minutes),
            value=reading[0],
            numeric_value=float(reading[0]),
            unit=reading[1],
        )
    TransactionFactory(charge_box=ChargeBoxFactory(account=other_account))
    return transactions


def ids(response):
    return sorted(t["id"] for t in response.json())


@pytest.mark.django_db
class TestTransactionsApi:
    def test_it_answers_steves_transaction_fields(self, api, history):
        tx = history["yesterday"]
        body = next(t for t in api.get("/api/v1/transactions").json() if t["id"] == tx.pk)
        assert body == {
            "id": tx.pk,
            "chargeBoxId": "CB-B",
            "chargeBoxPk": tx.charge_box_id,
            "connectorId": 2,
            "ocppIdTag": "DRIVER",
            "ocppTagPk": tx.ocpp_tag_id,
            "userId": tx.ocpp_tag.user_id,
            "startTimestamp": body["startTimestamp"],
            "startValue": "0",
            "stopTimestamp": body["stopTimestamp"],
            "stopValue": "7000",
            "stopReason": "Local",
            "stopEventActor": "station",
            "energyWh": 7000,
        }
        running = next(t for t in api.get("/api/v1/transactions").json() if t["id"] == history["running"].pk)
        assert (running["stopValue"], running["stopReason"], running["energyWh"]) == (None, None, 500)

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, {"running", "yesterday", "old"}),
            ({"type": "ACTIVE"}, {"running"}),
            ({"type": "STOPPED"}, {"yesterday", "old"}),
            ({"periodType": "LAST_10"}, {"running", "yesterday"}),
            ({"periodType": "LAST_90"}, {"running", "yesterday", "old"}),
            ({"chargeBoxId": "CB-B"}, {"yesterday", "old"}),
            ({"connectorId": 2}, {"yesterday"}),
            ({"ocppIdTag": "driver"}, {"running", "yesterday"}),
        ],
    )
    def test_it_filters_like_steve(self, api, history, query, expected):
        response = api.get("/api/v1/transactions", query)
        assert response.status_code == 200
        assert ids(response) == sorted(history[name].pk for name in expected)

    def test_list_parameters_repeat_or_use_commas(self, api, history):
        a, b = history["running"].pk, history["old"].pk
        assert ids(api.get(f"/api/v1/transactions?transactionPk={a}&transactionPk={b}")) == sorted([a, b])
        assert ids(api.get(f"/api/v1/transactions?transactionPk={a},{b}")) == sorted([a, b])
        assert len(api.get("/api/v1/transactions?chargeBoxId=CB-A&chargeBoxId=CB-B").json()) == 3

    def test_id_tags_and_users_are_lists_too(self, api, history):
        driver = {history["running"].pk, history["yesterday"].pk}
        assert set(ids(api.get("/api/v1/transactions?ocppIdTag=driver&ocppIdTag=anon"))) == {*driver, history["old"].pk}
        assert set(ids(api.get("/api/v1/transactions?ocppIdTag=DRIVER,nobody"))) == driver
        user_id = history["running"].ocpp_tag.user_id
        other_user = UserFactory(account=history["running"].charge_box.account).pk
        assert set(ids(api.get(f"/api/v1/transactions?userId={user_id}&userId={other_user}"))) == driver

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("transactionPk=99999999999999999999999", "transactionPk"),
            ("userId=99999999999999999999999", "userId"),
            ("userId=0", "userId"),
            ("connectorId=99999999999999999999", "connectorId"),
            ("periodType=FROM_TO&from=garbage&to=2030-01-01T00:00:00Z", "from"),
        ],
    )
    def test_numbers_and_dates_out_of_range_are_a_400(self, api, history, query, field):
        assert_api_error(api.get(f"/api/v1/transactions?{query}"), 400, field)

    def test_user_and_time_window_filters(self, api, history):
        user_id = history["running"].ocpp_tag.user_id
        assert ids(api.get("/api/v1/transactions", {"userId": user_id})) == sorted(
            [history["running"].pk, history["yesterday"].pk]
        )
        window = {
            "periodType": "FROM_TO",
            "from": (timezone.now() - timedelta(days=2)).isoformat(),
            "to": (timezone.now() - timedelta(hours=1)).isoformat(),
        }
        assert ids(api.get("/api/v1/transactions", window)) == [history["yesterday"].pk]
        assert_api_error(api.get("/api/v1/transactions", {"periodType": "FROM_TO"}), 400, "to")
        assert_api_error(api.get("/api/v1/transactions", {"type": "SOMETIMES"}), 400, "type")

    def test_details_with_meter_values(self, api, history):
        tx = history["running"]
        for measurand, value in (("", "800"), ("Energy.Active.Import.Register", "900"), ("Power.Active.Import", "7")):
            MeterValue.objects.create(
                charge_box=tx.charge_box,
                connector_id=1,
                transaction=tx,
                timestamp=timezone.now() + timedelta(minutes=5),
                value=value,
                measurand=measurand,
            )
        energy = api.get(f"/api/v1/transactions/{tx.pk}").json()
        assert energy["transaction"]["id"] == tx.pk
        assert [v["value"] for v in energy["values"]] == ["0.3", "600", "800", "900"]
        everything = api.get(f"/api/v1/transactions/{tx.pk}", {"energyValuesOnly": "false"}).json()
        assert [v["value"] for v in everything["values"]] == ["0.3", "600", "800", "900", "7"]
        assert set(everything["values"][0]) == {
            "value",
            "valueTimestamp",
            "readingContext",
            "format",
            "measurand",
            "location",
            "unit",
            "phase",
        }

    def test_details_refuse_a_flag_that_is_not_a_boolean(self, api, history):
        url = f"/api/v1/transactions/{history['running'].pk}"
        assert_api_error(api.get(url, {"energyValuesOnly": "banana"}), 400, "energyValuesOnly")

    def test_manual_stop(self, api, history):
        tx = history["running"]
        response = api.patch(f"/api/v1/transactions/{tx.pk}/stop")
        assert response.status_code == 200
        tx.refresh_from_db()
        assert (tx.stop_event_actor, tx.meter_stop) == ("manual", 600) and tx.stopped_at is not None
        assert_api_error(api.patch(f"/api/v1/transactions/{tx.pk}/stop"), 400)

    def test_another_accounts_transactions_do_not_exist(self, api, other_account, history):
        theirs = Transaction.objects.get(charge_box__account=other_account)
        assert_api_error(api.get(f"/api/v1/transactions/{theirs.pk}"), 404)
        assert_api_error(api.patch(f"/api/v1/transactions/{theirs.pk}/stop"), 404)
        assert theirs.pk not in ids(api.get("/api/v1/transactions"))

    def test_csv_report_of_stopped_transactions(self, api, history):
        response = api.get(
            "/api/v1/transactions/reports/csv",
            {"from": (timezone.now() - timedelta(days=2)).isoformat(), "to": timezone.now().isoformat()},
        )
        assert response.status_code == 200 and response["Content-Type"] == "text/csv"
        lines = response.content.decode().strip().splitlines()
        assert lines[0].startswith("id,chargeBoxId,chargeBoxPk,connectorId,ocppIdTag")
        assert len(lines) == 2 and lines[1].startswith(f"{history['yesterday'].pk},CB-B,")
        assert_api_error(api.get("/api/v1/transactions/reports/csv"), 400, "from")
