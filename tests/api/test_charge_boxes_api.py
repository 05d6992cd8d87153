import pytest
from django.contrib.auth.hashers import check_password

from ocpp_core.models import ChargeBox

from ..factories import ChargeBoxFactory, ConnectorFactory, NodeFactory, TransactionFactory
from .crud import CrudContract, assert_api_error


class TestChargeBoxesApi(CrudContract):
    url = "/api/v1/chargeBoxes"
    pk_field = "chargeBoxPk"
    model = ChargeBox
    create_body = {"chargeBoxId": "DE_EDR_E12345678", "description": "Garage, left wall", "maxCurrentA": 16}
    update_body = {
        "chargeBoxId": "DE_EDR_E12345678",
        "description": "Moved",
        "registrationStatus": "Pending",
        "phases": 1,
        "phaseRotation": "STR",
        "minCurrentA": 8,
        "maxCurrentA": 16,
    }
    invalid_bodies = [
        ({}, "chargeBoxId"),
        ({"chargeBoxId": "has spaces"}, "chargeBoxId"),
        ({"chargeBoxId": "x" * 49}, "chargeBoxId"),
        ({"chargeBoxId": "CB-1", "registrationStatus": "Maybe"}, "registrationStatus"),
        ({"chargeBoxId": "CB-1", "nodeId": 999_999}, "nodeId"),
        ({"chargeBoxId": "CB-1", "phases": 2}, "phases"),
        ({"chargeBoxId": "CB-1", "minCurrentA": 20, "maxCurrentA": 16}, "minCurrentA"),
        ({"chargeBoxId": "CB-1", "authPassword": "short"}, "authPassword"),
        ({"chargeBoxId": "CB-1", "upstreamUrl": "http://csms.example.com"}, "upstreamUrl"),
    ]

    def make(self, account):
        return ChargeBoxFactory(account=account)


@pytest.mark.django_db
class TestChargeBoxFields:
    def test_it_answers_every_documented_field(self, api, account):
        node = NodeFactory(account=account)
        box = ChargeBoxFactory(account=account, node=node, charge_point_serial_number="ACE9876543")
        ConnectorFactory(charge_box=box, connector_id=1, status="Available", evse_id="DE*EDR*E12345678*1", priority=3)
        body = api.get(f"/api/v1/chargeBoxes/{box.pk}").json()
        assert body["nodeId"] == node.pk
        assert body["chargePointSerialNumber"] == "ACE9876543"
        assert body["connectors"] == [
            {"connectorId": 1, "status": "Available", "errorCode": "", "evseId": "DE*EDR*E12345678*1", "priority": 3}
        ]
        assert body["connected"] is False
        assert body["lastHeartbeat"] is None
        assert body["minCurrentA"] == 6
        assert body["phaseRotation"] == "RST"
        assert "authPassword" not in body

    def test_it_stores_the_charger_password_hashed_and_clears_it_with_null(self, api, account):
        box = ChargeBoxFactory(account=account)
        response = api.patch(f"/api/v1/chargeBoxes/{box.pk}", {"authPassword": "s3cret-charger-pass"}, format="json")
        assert response.status_code == 200
        box.refresh_from_db()
        assert box.auth_password_hash != "s3cret-charger-pass"
        assert check_password("s3cret-charger-pass", box.auth_password_hash)
        api.patch(f"/api/v1/chargeBoxes/{box.pk}", {"authPassword": None}, format="json")
        box.refresh_from_db()
        assert box.auth_password_hash == ""

    def test_it_refuses_a_duplicate_charge_box_id_even_of_another_account(self, api, other_account):
        ChargeBoxFactory(account=other_account, charge_box_id="SHARED-ID")
        response = api.post("/api/v1/chargeBoxes", {"chargeBoxId": "SHARED-ID"}, format="json")
        assert_api_error(response, 400, "chargeBoxId")

    def test_it_refuses_another_accounts_node(self, api, other_account):
        theirs = NodeFactory(account=other_account)
        response = api.post("/api/v1/chargeBoxes", {"chargeBoxId": "CB-9", "nodeId": theirs.pk}, format="json")
        body = assert_api_error(response, 400, "nodeId")
        assert body["fieldErrors"]["nodeId"] == [f"Unknown node {theirs.pk}."]

    def test_it_keeps_a_charge_box_with_transactions(self, api, account):
        tx = TransactionFactory(charge_box=ChargeBoxFactory(account=account))
        response = api.delete(f"/api/v1/chargeBoxes/{tx.charge_box_id}")
        assert_api_error(response, 400)
        assert ChargeBox.objects.filter(pk=tx.charge_box_id).exists()
