import pytest

from permissions.models import OcppTagGroupPermission, OcppTagPermission

from ..factories import (
    ChargeBoxFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
)
from .crud import assert_api_error

HOLDERS = [
    # (endpoint, body key, permission model, factory for a holder)
    ("ocppTags", "ocppTagPk", OcppTagPermission, OcppTagFactory),
    ("ocppTagGroups", "ocppTagGroupPk", OcppTagGroupPermission, OcppTagGroupFactory),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "key", "model", "holder_factory"), HOLDERS)
class TestPermissionEndpoints:
    def test_grant_creates_then_updates_the_flag(self, api, account, endpoint, key, model, holder_factory):
        holder, node = holder_factory(account=account), NodeFactory(account=account)
        url = f"/api/v1/permissions/{endpoint}"
        first = api.post(url, {key: holder.pk, "nodeId": node.pk}, format="json")
        assert first.status_code == 201
        assert first.json() == {
            "id": first.json()["id"],
            key: holder.pk,
            "nodeId": node.pk,
            "appliesToAllChildren": False,
        }
        again = api.post(url, {key: holder.pk, "nodeId": node.pk, "appliesToAllChildren": True}, format="json")
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["appliesToAllChildren"] is True
        assert model.objects.count() == 1

    def test_list_and_revoke(self, api, account, endpoint, key, model, holder_factory):
        holder = holder_factory(account=account)
        nodes = [NodeFactory(account=account) for _ in range(3)]
        for node in nodes:
            api.post(f"/api/v1/permissions/{endpoint}", {key: holder.pk, "nodeId": node.pk}, format="json")
        url = f"/api/v1/permissions/{endpoint}/{holder.pk}"
        assert [p["nodeId"] for p in api.get(url).json()] == [n.pk for n in nodes]

        assert api.delete(f"{url}?nodeId={nodes[0].pk}").status_code == 204
        assert [p["nodeId"] for p in api.get(url).json()] == [n.pk for n in nodes[1:]]
        assert_api_error(api.delete(f"{url}?nodeId={nodes[0].pk}"), 404)
        assert api.delete(url).status_code == 204
        assert api.get(url).json() == []

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "nodeId"),
            ({"nodeId": 999_999}, "nodeId"),
            ({"nodeId": "x"}, "nodeId"),
            ({"appliesToAllChildren": "perhaps"}, "appliesToAllChildren"),
        ],
    )
    def test_invalid_grants_are_400_and_change_nothing(
        self, api, account, endpoint, key, model, holder_factory, body, field
    ):
        holder = holder_factory(account=account)
        body = {key: holder.pk, **body}
        if field != "nodeId":
            body["nodeId"] = NodeFactory(account=account).pk
        assert_api_error(api.post(f"/api/v1/permissions/{endpoint}", body, format="json"), 400, field)
        missing_holder = api.post(f"/api/v1/permissions/{endpoint}", {"nodeId": 1}, format="json")
        assert_api_error(missing_holder, 400, key)
        assert not model.objects.exists()

    def test_other_accounts_holders_and_nodes_are_unknown(
        self, api, account, other_account, endpoint, key, model, holder_factory
    ):
        mine, theirs = holder_factory(account=account), holder_factory(account=other_account)
        my_node, their_node = NodeFactory(account=account), NodeFactory(account=other_account)
        url = f"/api/v1/permissions/{endpoint}"
        assert_api_error(api.post(url, {key: theirs.pk, "nodeId": my_node.pk}, format="json"), 400, key)
        assert_api_error(api.post(url, {key: mine.pk, "nodeId": their_node.pk}, format="json"), 400, "nodeId")
        assert_api_error(api.get(f"{url}/{theirs.pk}"), 404)
        assert_api_error(api.delete(f"{url}/{theirs.pk}"), 404)
        assert not model.objects.exists()

    def test_revoking_leaves_other_holders_alone(self, api, account, endpoint, key, model, holder_factory):
        node = NodeFactory(account=account)
        first, second = holder_factory(account=account), holder_factory(account=account)
        for holder in (first, second):
            api.post(f"/api/v1/permissions/{endpoint}", {key: holder.pk, "nodeId": node.pk}, format="json")
        api.delete(f"/api/v1/permissions/{endpoint}/{first.pk}")
        assert [p[key] for p in api.get(f"/api/v1/permissions/{endpoint}/{second.pk}").json()] == [second.pk]


@pytest.mark.django_db
class TestPermissionCheck:
    @pytest.fixture
    def floor(self, account):
        root = NodeFactory(account=account, name="Building")
        floor = NodeFactory(parent=root, name="Floor 3")
        wing = NodeFactory(parent=floor, name="Left wing")
        ChargeBoxFactory(account=account, charge_box_id="CB-3L1", node=wing)
        return floor, wing

    def check(self, api, id_tag, charge_box_id="CB-3L1"):
        return api.get("/api/v1/permissions/check", {"idTag": id_tag, "chargeBoxId": charge_box_id})

    def test_via_the_tag(self, api, account, floor):
        tag = OcppTagFactory(account=account, id_tag="MANAGER")
        OcppTagPermissionFactory(ocpp_tag=tag, node=floor[0], applies_to_all_children=True)
        response = self.check(api, "MANAGER")
        assert response.status_code == 200
        assert response.json() == {"allowed": True, "via": "ocppTag", "nodeId": floor[0].pk, "status": "Accepted"}

    def test_via_a_group(self, api, account, floor):
        tag = OcppTagFactory(account=account, id_tag="RESIDENT")
        OcppTagGroupPermissionFactory(
            ocpp_tag_group=OcppTagGroupFactory(account=account, ocpp_tags=[tag]), node=floor[1]
        )
        assert self.check(api, "RESIDENT").json() == {
            "allowed": True,
            "via": "ocppTagGroup",
            "nodeId": floor[1].pk,
            "status": "Accepted",
        }

    def test_not_allowed(self, api, account, floor):
        tag = OcppTagFactory(account=account, id_tag="STRANGER")
        OcppTagPermissionFactory(ocpp_tag=tag, node=floor[0], applies_to_all_children=False)
        assert self.check(api, "STRANGER").json() == {
            "allowed": False,
            "via": None,
            "nodeId": None,
            "status": "Invalid",
        }
        assert self.check(api, "UNKNOWN").json()["allowed"] is False

    def test_a_blocked_tag_holds_its_permission_but_would_be_refused(self, api, account, floor):
        tag = OcppTagFactory(account=account, id_tag="LOST", max_active_transaction_count=0)
        OcppTagPermissionFactory(ocpp_tag=tag, node=floor[1])
        assert self.check(api, "LOST").json() == {
            "allowed": True,
            "via": "ocppTag",
            "nodeId": floor[1].pk,
            "status": "Blocked",
        }

    def test_parameters_are_required_and_the_charge_box_must_be_the_accounts(self, api, other_account, floor):
        assert_api_error(api.get("/api/v1/permissions/check", {"idTag": "X"}), 400, "chargeBoxId")
        assert_api_error(api.get("/api/v1/permissions/check", {"chargeBoxId": "CB-3L1"}), 400, "idTag")
        ChargeBoxFactory(account=other_account, charge_box_id="THEIRS")
        assert_api_error(self.check(api, "X", "THEIRS"), 404)
        assert_api_error(self.check(api, "X", "NO-SUCH-BOX"), 404)
