"""Input is read as typed: what the OpenAPI document forbids is a 400 naming the field, never coerced.

(tests/api/test_openapi_conformance.py checks every operation against the document; these are the cases found by
probing, spelled out.)"""

import pytest

from ocpp_core.models import OcppTagGroup, User

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, TransactionFactory
from .crud import assert_api_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"minCurrentA": False}, "minCurrentA"),  # was taken as 0
        ({"maxCurrentA": "32"}, "maxCurrentA"),
        ({"phases": "3"}, "phases"),
        ({"registrationStatus": ["Accepted"]}, "registrationStatus"),
        ({"description": 5}, "description"),  # was stored as "5"
        ({"nodeId": "NODE"}, "nodeId"),  # the node's id as text
        ({"nodeId": True}, "nodeId"),
    ],
)
def test_a_charge_box_field_of_the_wrong_type_is_refused(api, account, body, field):
    charge_box = ChargeBoxFactory(account=account, min_current_a=6)
    node = NodeFactory(account=account)
    body = {key: str(node.pk) if value == "NODE" else value for key, value in body.items()}
    assert_api_error(api.patch(f"/api/v1/chargeBoxes/{charge_box.pk}", body, format="json"), 400, field)
    charge_box.refresh_from_db()
    assert (charge_box.min_current_a, charge_box.description, charge_box.node) == (6, "", None)


@pytest.mark.parametrize("tags", [{}, {"1": 1}, "1", 1])
def test_a_list_of_tags_must_be_a_list(api, account, tags):
    OcppTagFactory(account=account)
    assert_api_error(api.post("/api/v1/ocppTagGroups", {"name": "G", "ocppTagPks": tags}, format="json"), 400)
    assert_api_error(api.post("/api/v1/users", {"firstName": "A", "ocppTagPks": tags}, format="json"), 400)
    assert not OcppTagGroup.objects.filter(account=account).exists()
    assert not User.objects.filter(account=account).exists()


def test_tag_pks_are_numbers_not_text(api, account):
    tag = OcppTagFactory(account=account)
    body = {"name": "G", "ocppTagPks": [str(tag.pk)]}
    assert_api_error(api.post("/api/v1/ocppTagGroups", body, format="json"), 400, "ocppTagPks")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chargeBoxIdList": [0], "connectorId": 1}, "chargeBoxIdList[0]"),  # was turned into "0"
        ({"chargeBoxIdList": "CB-1", "connectorId": 1}, "chargeBoxIdList"),
        ({"chargeBoxIdList": ["CB-1"], "connectorId": "1"}, "connectorId"),
        ({"chargeBoxIdList": ["CB-1"], "connectorId": True}, "connectorId"),
        ({"chargeBoxIdList": ["CB-1"], "connectorId": 1.5}, "connectorId"),
    ],
)
def test_operation_parameters_are_read_as_typed(api, account, body, field):
    ChargeBoxFactory(account=account, charge_box_id="CB-1")
    assert_api_error(api.post("/api/v1/operations/UnlockConnector", body, format="json"), 400, field)


def test_a_boolean_is_true_or_false(api, account):
    tag = OcppTagFactory(account=account)
    body = {"ocppTagPk": tag.pk, "nodeId": 1, "appliesToAllChildren": "yes"}
    assert_api_error(api.post("/api/v1/permissions/ocppTags", body, format="json"), 400, "appliesToAllChildren")
    transaction = TransactionFactory(charge_box=ChargeBoxFactory(account=account), ocpp_tag=tag)
    url = f"/api/v1/transactions/{transaction.pk}"
    assert_api_error(api.get(url, {"energyValuesOnly": "1"}), 400, "energyValuesOnly")
    assert api.get(url, {"energyValuesOnly": "false"}).status_code == 200


@pytest.mark.parametrize("expiry", ["2030-01-01", "2030-01-01T00:00:00", "2030-01-01 00:00:00Z", 1893456000])
def test_a_date_time_is_rfc_3339_with_its_offset(api, expiry):
    """A date alone was read as midnight, a time without offset as UTC."""
    body = {"idTag": "T1", "expiryDate": expiry}
    assert_api_error(api.post("/api/v1/ocppTags", body, format="json"), 400, "expiryDate")
    body["expiryDate"] = "2030-01-01T00:00:00+01:00"
    assert api.post("/api/v1/ocppTags", body, format="json").json()["expiryDate"] == "2029-12-31T23:00:00Z"


def test_text_is_kept_as_sent(api):
    response = api.post("/api/v1/users", {"firstName": " Ada ", "ocppTagPks": []}, format="json")
    assert response.status_code == 201 and response.json()["firstName"] == " Ada "


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        ("/api/v1/ocppTags", {"expired": ""}, "expired"),  # was ignored
        ("/api/v1/ocppTags", {"ocppTagPk": "1.5"}, "ocppTagPk"),
        ("/api/v1/transactions", {"to": ""}, "to"),
        ("/api/v1/transactions", {"periodType": "FROM_TO", "from": "2030-01-01", "to": "2030-02-01"}, "from"),
        ("/api/v1/transactions/reports/csv", {"from": "2030-01-01", "to": "2030-02-01T00:00:00Z"}, "from"),
        ("/api/v1/transactions", {"transactionPk": "1,2.5"}, "transactionPk"),
        ("/api/v1/transactions", {"connectorId": "-1"}, "connectorId"),
        ("/api/v1/ocppTags", {"page": "last"}, "page"),
    ],
)
def test_query_parameters_hold_what_the_document_says(api, url, query, field):
    assert_api_error(api.get(url, query), 400, field)


def test_the_document_says_a_list_is_an_array_or_a_page(api):
    document = api.get("/api/schema/", {"format": "json"}).json()
    lists = {
        "/api/v1/chargeBoxes": "get",
        "/api/v1/sites": "get",
        "/api/v1/priorities": "get",
        "/api/v1/permissions/ocppTags/{ocppTagPk}": "get",
        "/api/v1/ocppTagGroups/{ocppTagGroupPk}/ocppTags/add": "put",
    }
    for path, method in lists.items():
        operation = document["paths"][path][method]
        reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        shapes = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]["oneOf"]
        assert [shape["type"] for shape in shapes] == ["array", "object"], path
        page_size = next(p for p in operation["parameters"] if p["name"] == "pageSize")
        assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}, path
