"""PUT|GET|DELETE /api/v1/priorities (API.md §1 Priorities, gridX's EVCS user priority API)."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ocpp_core.models import Connector
from priority.choices import PriorityChangeSource
from priority.models import ConnectorLoad, PriorityChange
from priority.services.priorities import connector_priority_set

from ..api.crud import assert_api_error
from ..factories import ChargeBoxFactory, ConnectorFactory, ConnectorLoadFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/priorities"
RECORD_KEYS = {
    "chargeBoxId",
    "connectorId",
    "chargePointSerialNumber",
    "chargeBoxSerialNumber",
    "evseId",
    "priority",
    "updatedAt",
    "departureTime",
    "energyNeededKwh",
}
BY_CHARGE_BOX_ID = {"byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": 1}}


def make_station(account, charge_box_id, *, serials=("", ""), evse_prefix=None, connectors=(0, 1, 2)):
    box = ChargeBoxFactory(
        account=account,
        charge_box_id=charge_box_id,
        charge_point_serial_number=serials[0],
        charge_box_serial_number=serials[1],
    )
    for connector_id in connectors:
        evse_id = f"{evse_prefix}*{connector_id}" if evse_prefix and connector_id else ""
        ConnectorFactory(charge_box=box, connector_id=connector_id, evse_id=evse_id)
    return box


@pytest.fixture
def alfen(account):
    """The Alfen of the gridX thread: hardware serial and OCPP serial differ, the identity is the latter."""
    return make_station(
        account, "DE_EDR_E12345678", serials=("ACE9876543", "DE_EDR_E12345678"), evse_prefix="DE*EDR*E12345678"
    )


@pytest.fixture
def hyc(account):
    """The alpitronic HYC of the gridX thread: both serial numbers the same, the identity something else."""
    return make_station(account, "123456789", serials=("HYC_50_123456789", "HYC_50_123456789"))


@pytest.fixture
def rival(other_account):
    return make_station(
        other_account, "RIVAL-CB", serials=("RIVAL-SERIAL", "RIVAL-SERIAL"), evse_prefix="DE*RIV*E0000001"
    )


def priority_of(box, connector_id=1) -> int:
    return Connector.objects.get(charge_box=box, connector_id=connector_id).priority


class TestPut:
    @pytest.mark.parametrize(
        "identifier",
        [
            {"bySerialNumber": {"serialNumber": "ACE9876543", "connectorId": 1}},
            {"bySerialNumber": {"serialNumber": "DE_EDR_E12345678", "connectorId": 1}},
            {"byEvseId": {"evseId": "DE*EDR*E12345678*1"}},
            BY_CHARGE_BOX_ID,
        ],
        ids=["chargePointSerialNumber", "chargeBoxSerialNumber", "evseId", "chargeBoxId"],
    )
    def test_it_sets_the_priority_of_the_connector_each_identifier_names(self, api, alfen, hyc, identifier):
        response = api.put(URL, {"priority": 5, **identifier}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body.keys() == RECORD_KEYS
        assert body["chargeBoxId"] == "DE_EDR_E12345678" and body["connectorId"] == 1
        assert body["chargePointSerialNumber"] == "ACE9876543" and body["evseId"] == "DE*EDR*E12345678*1"
        assert body["priority"] == 5 and body["updatedAt"] is not None
        assert priority_of(alfen) == 5
        assert priority_of(alfen, 2) == 0 and priority_of(hyc) == 0

    def test_it_finds_a_station_whose_serial_numbers_are_the_same(self, api, hyc):
        body = {"priority": -3, "bySerialNumber": {"serialNumber": "HYC_50_123456789", "connectorId": 2}}
        response = api.put(URL, body, format="json")
        assert response.status_code == 200, response.content
        assert priority_of(hyc, 2) == -3

    def test_it_answers_the_record_as_get_lists_it(self, api, alfen):
        put = api.put(URL, {"priority": 9, **BY_CHARGE_BOX_ID}, format="json").json()
        listed = api.get(URL).json()
        assert put in listed

    def test_it_keeps_a_history_row_per_change(self, api, alfen):
        for priority in (4, 4, -9):
            api.put(URL, {"priority": priority, **BY_CHARGE_BOX_ID}, format="json")
        history = list(PriorityChange.objects.order_by("id").values_list("previous_priority", "priority", "source"))
        assert history == [(0, 4, "api"), (4, -9, "api")]  # the repeated 4 changed nothing
        assert PriorityChange.objects.first().changed_by.startswith("API token ")

    def test_the_extremes_of_the_range_are_accepted(self, api, alfen):
        for priority in (-9, 9, 0):
            assert api.put(URL, {"priority": priority, **BY_CHARGE_BOX_ID}, format="json").status_code == 200
            assert priority_of(alfen) == priority

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"priority": 10, **BY_CHARGE_BOX_ID}, "priority"),
            ({"priority": -10, **BY_CHARGE_BOX_ID}, "priority"),
            ({"priority": 2.5, **BY_CHARGE_BOX_ID}, "priority"),
            ({"priority": "5", **BY_CHARGE_BOX_ID}, "priority"),
            ({"priority": True, **BY_CHARGE_BOX_ID}, "priority"),
            ({"priority": None, **BY_CHARGE_BOX_ID}, "priority"),
            (BY_CHARGE_BOX_ID, "priority"),
            ({"priority": 5}, "nonFieldErrors"),
            ({"priority": 5, "byEvseId": None}, "nonFieldErrors"),
            (
                {"priority": 5, "byEvseId": {"evseId": "DE*EDR*E12345678*1"}, **BY_CHARGE_BOX_ID},
                "nonFieldErrors",
            ),
            ({"priority": 5, "bySerialNumber": {"serialNumber": "ACE9876543"}}, "bySerialNumber.connectorId"),
            ({"priority": 5, "byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678"}}, "byChargeBoxId.connectorId"),
            ({"priority": 5, "byChargeBoxId": {"connectorId": 1}}, "byChargeBoxId.chargeBoxId"),
            (
                {"priority": 5, "byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": 0}},
                "byChargeBoxId.connectorId",
            ),
            (
                {"priority": 5, "byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": "one"}},
                "byChargeBoxId.connectorId",
            ),
            ({"priority": 5, "bySerialNumber": {"serialNumber": "", "connectorId": 1}}, "bySerialNumber.serialNumber"),
            ({"priority": 5, "byEvseId": {}}, "byEvseId.evseId"),
            ({"priority": 5, "byEvseId": "DE*EDR*E12345678*1"}, "byEvseId.nonFieldErrors"),
            ({"priority": 5, **BY_CHARGE_BOX_ID, "energyNeededKwh": -1}, "energyNeededKwh"),
            ({"priority": 5, **BY_CHARGE_BOX_ID, "departureTime": "tonight"}, "departureTime"),
        ],
    )
    def test_it_rejects_an_invalid_body_with_field_errors_and_changes_nothing(self, api, alfen, body, field):
        error = assert_api_error(api.put(URL, body, format="json"), 400, field)
        assert error["error"] == "Bad Request" and error["path"] == URL
        assert not Connector.objects.exclude(priority=0).exists()
        assert not PriorityChange.objects.exists() and not ConnectorLoad.objects.exists()

    def test_it_rejects_a_body_that_is_not_an_object(self, api, alfen):
        assert_api_error(api.put(URL, [{"priority": 5, **BY_CHARGE_BOX_ID}], format="json"), 400, "nonFieldErrors")
        assert_api_error(api.generic("PUT", URL, "{not json", content_type="application/json"), 400)

    def test_a_serial_number_of_several_stations_is_ambiguous(self, api, alfen, account):
        make_station(account, "REPLACED-ALFEN", serials=("ACE9876543", "OLD"))
        body = {"priority": 5, "bySerialNumber": {"serialNumber": "ACE9876543", "connectorId": 1}}
        error = assert_api_error(api.put(URL, body, format="json"), 400, "bySerialNumber.serialNumber")
        message = " ".join(error["fieldErrors"]["bySerialNumber.serialNumber"])
        assert "DE_EDR_E12345678" in message and "REPLACED-ALFEN" in message and "byChargeBoxId" in message
        assert not PriorityChange.objects.exists()

    def test_another_accounts_station_with_the_same_serial_does_not_make_it_ambiguous(self, api, alfen, other_account):
        make_station(other_account, "THEIR-ALFEN", serials=("ACE9876543", "ACE9876543"))
        body = {"priority": 5, "bySerialNumber": {"serialNumber": "ACE9876543", "connectorId": 1}}
        assert api.put(URL, body, format="json").status_code == 200
        assert priority_of(alfen) == 5

    @pytest.mark.parametrize(
        "identifier",
        [
            {"bySerialNumber": {"serialNumber": "NO-SUCH-SERIAL", "connectorId": 1}},
            {"bySerialNumber": {"serialNumber": "ACE9876543", "connectorId": 3}},
            {"byEvseId": {"evseId": "DE*EDR*E12345678*9"}},
            {"byChargeBoxId": {"chargeBoxId": "NO-SUCH-CB", "connectorId": 1}},
            {"byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": 7}},
            {"byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": 2**31 - 1}},
        ],
    )
    def test_an_unknown_connector_is_404(self, api, alfen, identifier):
        assert_api_error(api.put(URL, {"priority": 5, **identifier}, format="json"), 404)
        assert not PriorityChange.objects.exists()

    @pytest.mark.parametrize(
        ("theirs", "absent"),
        [
            (
                {"bySerialNumber": {"serialNumber": "RIVAL-SERIAL", "connectorId": 1}},
                {"bySerialNumber": {"serialNumber": "ABSENT-SERIAL", "connectorId": 1}},
            ),
            ({"byEvseId": {"evseId": "DE*RIV*E0000001*1"}}, {"byEvseId": {"evseId": "DE*RIV*E0000001*9"}}),
            (
                {"byChargeBoxId": {"chargeBoxId": "RIVAL-CB", "connectorId": 1}},
                {"byChargeBoxId": {"chargeBoxId": "ABSENT-CB", "connectorId": 1}},
            ),
        ],
        ids=["bySerialNumber", "byEvseId", "byChargeBoxId"],
    )
    def test_another_accounts_connector_is_404_as_if_absent(self, api, rival, theirs, absent):
        foreign = assert_api_error(api.put(URL, {"priority": 5, **theirs}, format="json"), 404)
        missing = assert_api_error(api.put(URL, {"priority": 5, **absent}, format="json"), 404)
        assert foreign["message"] == missing["message"]
        assert_api_error(api.delete(URL, theirs, format="json"), 404)
        assert priority_of(rival) == 0 and not PriorityChange.objects.exists()

    def test_it_requires_authentication(self, client, alfen):
        body = {"priority": 5, **BY_CHARGE_BOX_ID}
        assert_api_error(client.put(URL, body, content_type="application/json"), 401)
        assert_api_error(client.get(URL), 401)
        assert_api_error(client.delete(URL), 401)
        assert priority_of(alfen) == 0


class TestNeeds:
    """Extension: departureTime and energyNeededKwh, what load management plans with."""

    def test_it_sets_and_shows_the_needs(self, api, alfen):
        body = {
            "priority": 2,
            **BY_CHARGE_BOX_ID,
            "departureTime": "2026-03-01T17:30:00+01:00",
            "energyNeededKwh": 22.5,
        }
        record = api.put(URL, body, format="json").json()
        assert record["departureTime"] == "2026-03-01T16:30:00Z"
        assert record["energyNeededKwh"] == 22.5
        load = ConnectorLoad.objects.get(connector__charge_box=alfen, connector__connector_id=1)
        assert load.departure_at == datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
        assert load.energy_needed_wh == 22_500

    def test_omitted_needs_are_kept_and_null_clears_them(self, api, alfen):
        api.put(URL, {"priority": 2, **BY_CHARGE_BOX_ID, "energyNeededKwh": 10}, format="json")
        record = api.put(URL, {"priority": 3, **BY_CHARGE_BOX_ID}, format="json").json()
        assert record["energyNeededKwh"] == 10 and record["priority"] == 3
        record = api.put(URL, {"priority": 3, **BY_CHARGE_BOX_ID, "energyNeededKwh": None}, format="json").json()
        assert record["energyNeededKwh"] is None
        assert ConnectorLoad.objects.get().energy_needed_wh is None

    def test_needs_leave_load_managements_own_fields_alone(self, api, alfen):
        connector = Connector.objects.get(charge_box=alfen, connector_id=1)
        ConnectorLoadFactory(connector=connector, allocated_amps=16, applied_amps=13, phases_in_use="12")
        api.put(URL, {"priority": 1, **BY_CHARGE_BOX_ID, "energyNeededKwh": 5}, format="json")
        load = ConnectorLoad.objects.get()
        assert (load.allocated_amps, load.applied_amps, load.phases_in_use) == (16, 13, "12")
        assert load.energy_needed_wh == 5000

    def test_clearing_needs_that_were_never_set_creates_no_load_row(self, api, alfen):
        body = {"priority": 1, **BY_CHARGE_BOX_ID, "departureTime": None, "energyNeededKwh": None}
        assert api.put(URL, body, format="json").status_code == 200
        assert not ConnectorLoad.objects.exists()

    def test_needs_alone_change_no_priority_history(self, api, alfen):
        api.put(URL, {"priority": 0, **BY_CHARGE_BOX_ID, "energyNeededKwh": 3}, format="json")
        assert not PriorityChange.objects.exists() and ConnectorLoad.objects.get().energy_needed_wh == 3000


class TestGet:
    def test_it_lists_every_outlet_of_the_account_without_connector_0(self, api, alfen, hyc, rival):
        connector_priority_set(
            connector=Connector.objects.get(charge_box=hyc, connector_id=2), priority=4, source=PriorityChangeSource.API
        )
        records = api.get(URL).json()
        assert [(r["chargeBoxId"], r["connectorId"], r["priority"]) for r in records] == [
            ("123456789", 1, 0),
            ("123456789", 2, 4),
            ("DE_EDR_E12345678", 1, 0),
            ("DE_EDR_E12345678", 2, 0),
        ]
        assert all(record.keys() == RECORD_KEYS for record in records)
        never, changed = records[0], records[1]
        assert never["updatedAt"] is None and changed["updatedAt"] is not None
        assert never["departureTime"] is None and never["energyNeededKwh"] is None
        assert records[2]["evseId"] == "DE*EDR*E12345678*1" and never["evseId"] == ""

    def test_updated_at_is_the_last_change(self, api, alfen):
        for priority in (3, 0):
            api.put(URL, {"priority": priority, **BY_CHARGE_BOX_ID}, format="json")
        last = PriorityChange.objects.latest("changed_at", "id")
        [record] = [r for r in api.get(URL).json() if r["connectorId"] == 1]
        assert datetime.fromisoformat(record["updatedAt"]) == last.changed_at

    def test_it_paginates_when_asked(self, api, alfen, hyc):
        page = api.get(URL, {"pageSize": 3}).json()
        assert page["count"] == 4 and len(page["results"]) == 3 and page["next"]
        rest = api.get(URL, {"pageSize": 3, "page": 2}).json()
        assert [*page["results"], *rest["results"]] == api.get(URL).json()
        assert_api_error(api.get(URL, {"pageSize": 0}), 400, "pageSize")

    def test_an_account_without_stations_gets_an_empty_list(self, api, rival):
        assert api.get(URL).json() == []

    def test_the_queries_do_not_grow_with_the_connectors(self, api, account):
        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert api.get(URL).status_code == 200
            return len(captured)

        make_station(account, "CB-A")
        queries()  # the token's first use of the minute is recorded
        few = queries()
        for n in range(5):
            box = make_station(account, f"CB-B{n}", connectors=(1, 2, 3))
            ConnectorLoadFactory(connector=box.connectors.get(connector_id=1), energy_needed_wh=1000)
            connector_priority_set(connector=box.connectors.get(connector_id=2), priority=1, source="api")
        assert queries() == few


class TestDelete:
    def test_it_resets_every_connector_of_the_account(self, api, alfen, hyc, rival):
        for box, connector_id, priority in ((alfen, 1, 5), (alfen, 2, -2), (rival, 1, 7)):
            connector_priority_set(
                connector=Connector.objects.get(charge_box=box, connector_id=connector_id),
                priority=priority,
                source=PriorityChangeSource.API,
            )
        load = ConnectorLoadFactory(connector=Connector.objects.get(charge_box=hyc, connector_id=1))
        load.energy_needed_wh, load.phases_in_use, load.allocated_amps = 5000, "1", 10
        load.save()

        response = api.delete(URL)
        assert response.status_code == 204 and response.content == b""
        assert set(Connector.objects.filter(charge_box__in=[alfen, hyc]).values_list("priority", flat=True)) == {0}
        assert priority_of(rival) == 7  # another account's priorities stay
        resets = PriorityChange.objects.filter(source=PriorityChangeSource.RESET)
        assert sorted(resets.values_list("previous_priority", "priority")) == [(-2, 0), (5, 0)]
        assert all(change.changed_by.startswith("API token ") for change in resets)
        load.refresh_from_db()
        assert (load.energy_needed_wh, load.phases_in_use, load.allocated_amps) == (None, "1", 10)

    def test_an_empty_object_resets_every_connector_too(self, api, alfen):
        api.put(URL, {"priority": 5, **BY_CHARGE_BOX_ID}, format="json")
        assert api.delete(URL, {}, format="json").status_code == 204
        assert priority_of(alfen) == 0

    def test_resetting_what_is_already_0_writes_no_history(self, api, alfen):
        assert api.delete(URL).status_code == 204
        assert not PriorityChange.objects.exists()

    def test_an_identifier_resets_only_that_connector(self, api, alfen):
        for connector_id in (1, 2):
            body = {"priority": 6, "byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": connector_id}}
            api.put(URL, {**body, "energyNeededKwh": 7}, format="json")
        response = api.delete(URL, {"byEvseId": {"evseId": "DE*EDR*E12345678*1"}}, format="json")
        assert response.status_code == 204
        assert (priority_of(alfen, 1), priority_of(alfen, 2)) == (0, 6)
        reset = PriorityChange.objects.get(source=PriorityChangeSource.RESET)
        assert (reset.connector.connector_id, reset.previous_priority, reset.priority) == (1, 6, 0)
        records = {r["connectorId"]: r for r in api.get(URL).json()}
        assert records[1]["energyNeededKwh"] is None and records[2]["energyNeededKwh"] == 7

    def test_an_unknown_connector_is_404(self, api, alfen):
        api.put(URL, {"priority": 6, **BY_CHARGE_BOX_ID}, format="json")
        body = {"byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678", "connectorId": 5}}
        assert_api_error(api.delete(URL, body, format="json"), 404)
        assert priority_of(alfen) == 6

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"byEvseID": {"evseId": "DE*EDR*E12345678*1"}}, "nonFieldErrors"),  # misspelt: not "reset all"
            ({"byEvseId": {"evseId": "x"}, **BY_CHARGE_BOX_ID}, "nonFieldErrors"),
            ({"byChargeBoxId": {"chargeBoxId": "DE_EDR_E12345678"}}, "byChargeBoxId.connectorId"),
            ([], "nonFieldErrors"),
        ],
    )
    def test_a_body_that_names_no_single_connector_is_400_and_resets_nothing(self, api, alfen, body, field):
        api.put(URL, {"priority": 6, **BY_CHARGE_BOX_ID}, format="json")
        assert_api_error(api.delete(URL, body, format="json"), 400, field)
        assert priority_of(alfen) == 6
