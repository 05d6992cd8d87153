import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ocpp_core.models import ChargeBox
from permissions.models import OcppTagGroupPermission, OcppTagPermission
from sites.models import MAX_TREE_DEPTH, Node

from ..factories import (
    ChargeBoxFactory,
    NodeFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
)
from .crud import assert_api_error

BUILDING = {
    "name": "Building",
    "maxCurrentA": 250,
    "children": [
        {"name": "Floor 1", "chargeBoxIds": ["CB-101"]},
        {"name": "Floor 2", "children": [{"name": "Left wing", "chargeBoxIds": ["CB-2L1", "CB-2L2"]}]},
    ],
}


def names(tree) -> list:
    return [tree["name"], [names(child) for child in tree["children"]]]


def find(tree, name):
    if tree["name"] == name:
        return tree
    for child in tree["children"]:
        found = find(child, name)
        if found:
            return found
    return None


@pytest.fixture
def stations(account):
    return {i: ChargeBoxFactory(account=account, charge_box_id=i) for i in ("CB-101", "CB-2L1", "CB-2L2", "CB-X")}


@pytest.fixture
def building(api, stations):
    response = api.post("/api/v1/sites", BUILDING, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
class TestSiteCreate:
    def test_it_creates_a_nested_tree_with_ids_and_assignments(self, building, stations):
        assert names(building) == ["Building", [["Floor 1", []], ["Floor 2", [["Left wing", []]]]]]
        assert building["parentId"] is None
        assert building["maxCurrentA"] == 250
        left = find(building, "Left wing")
        assert left["chargeBoxIds"] == ["CB-2L1", "CB-2L2"]
        assert left["parentId"] == find(building, "Floor 2")["id"]
        assert ChargeBox.objects.get(charge_box_id="CB-101").node_id == find(building, "Floor 1")["id"]
        Node.objects.partial_rebuild(Node.objects.get(pk=building["id"]).tree_id)  # nested sets were already right
        assert names(find(building, "Floor 2")) == ["Floor 2", [["Left wing", []]]]

    def test_it_grafts_a_tree_under_an_existing_node(self, api, building):
        floor2 = find(building, "Floor 2")
        response = api.post(
            "/api/v1/sites",
            {"name": "Right wing", "parentId": floor2["id"], "children": [{"name": "Bay 1"}]},
            format="json",
        )
        assert response.status_code == 201
        assert response.json()["parentId"] == floor2["id"]
        tree = api.get(f"/api/v1/sites/{building['id']}").json()
        assert names(find(tree, "Floor 2")) == ["Floor 2", [["Left wing", []], ["Right wing", [["Bay 1", []]]]]]

    def test_it_lists_the_accounts_roots_with_their_trees(self, api, other_api, building):
        other_api.post("/api/v1/sites", {"name": "Elsewhere"}, format="json")
        trees = api.get("/api/v1/sites").json()
        assert [names(tree) for tree in trees] == [names(building)]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "name"),
            ({"name": ""}, "name"),
            ({"name": "B", "children": [{"name": "A"}, {"name": "A"}]}, "children"),
            ({"name": "B", "children": [{}]}, "children[0].name"),
            ({"name": "B", "chargeBoxIds": ["NO-SUCH-BOX"]}, "chargeBoxIds"),
            ({"name": "B", "chargeBoxIds": ["CB-X", "CB-X"]}, "chargeBoxIds"),
            ({"name": "B", "children": [{"name": "C", "chargeBoxIds": ["CB-X", "NOPE"]}]}, "chargeBoxIds"),
            ({"name": "B", "parentId": 999_999}, "parentId"),
            ({"name": "B", "maxCurrentA": -1}, "maxCurrentA"),
            ({"name": "B", "phases": 2}, "phases"),
            ({"name": "Building"}, "name"),
        ],
    )
    def test_it_rejects_invalid_trees_and_creates_nothing(self, api, building, body, field):
        nodes, assignments = Node.objects.count(), list(ChargeBox.objects.values_list("pk", "node_id"))
        assert_api_error(api.post("/api/v1/sites", body, format="json"), 400, field)
        assert Node.objects.count() == nodes
        assert list(ChargeBox.objects.values_list("pk", "node_id")) == assignments

    def test_it_refuses_trees_deeper_than_the_limit(self, api):
        tree = {"name": "leaf"}
        for level in range(MAX_TREE_DEPTH + 1):
            tree = {"name": f"level {level}", "children": [tree]}
        assert_api_error(api.post("/api/v1/sites", tree, format="json"), 400, "children")
        assert not Node.objects.exists()

    def test_it_refuses_another_accounts_charge_box_as_unknown(self, api, other_account):
        ChargeBoxFactory(account=other_account, charge_box_id="THEIRS")
        body = assert_api_error(
            api.post("/api/v1/sites", {"name": "B", "chargeBoxIds": ["THEIRS"]}, format="json"), 400
        )
        assert body["fieldErrors"]["chargeBoxIds"] == ["Unknown charge box: THEIRS."]


@pytest.mark.django_db
class TestSiteUpdate:
    def test_it_renames_and_sets_limits(self, api, building):
        floor1 = find(building, "Floor 1")
        body = api.put(f"/api/v1/sites/{floor1['id']}", {"name": "Ground floor", "maxCurrentA": 63}, format="json")
        assert body.status_code == 200
        assert (body.json()["name"], body.json()["maxCurrentA"]) == ("Ground floor", 63)

    def test_it_moves_a_subtree(self, api, building):
        floor1, left = find(building, "Floor 1"), find(building, "Left wing")
        response = api.put(f"/api/v1/sites/{left['id']}", {"parentId": floor1["id"]}, format="json")
        assert response.status_code == 200
        assert response.json()["parentId"] == floor1["id"]
        tree = api.get(f"/api/v1/sites/{building['id']}").json()
        assert names(tree) == ["Building", [["Floor 1", [["Left wing", []]]], ["Floor 2", []]]]

    def test_it_makes_a_node_a_root(self, api, building):
        floor2 = find(building, "Floor 2")
        api.put(f"/api/v1/sites/{floor2['id']}", {"parentId": None}, format="json")
        assert sorted(tree["name"] for tree in api.get("/api/v1/sites").json()) == ["Building", "Floor 2"]

    def test_moving_a_node_under_its_own_descendant_is_a_400(self, api, building):
        floor2, left = find(building, "Floor 2"), find(building, "Left wing")
        for target in (left, floor2):
            response = api.put(f"/api/v1/sites/{floor2['id']}", {"parentId": target["id"]}, format="json")
            assert_api_error(response, 400, "parentId")
        assert api.get(f"/api/v1/sites/{building['id']}").json() == building

    def test_moving_under_another_accounts_node_is_a_400(self, api, building, other_account):
        theirs = NodeFactory(account=other_account)
        response = api.put(f"/api/v1/sites/{building['id']}", {"parentId": theirs.pk}, format="json")
        assert_api_error(response, 400, "parentId")

    def test_assigning_charge_boxes_sets_the_complete_set_and_moves_them(self, api, building):
        floor1, left = find(building, "Floor 1"), find(building, "Left wing")
        response = api.put(f"/api/v1/sites/{floor1['id']}", {"chargeBoxIds": ["CB-2L1", "CB-X"]}, format="json")
        assert response.json()["chargeBoxIds"] == ["CB-2L1", "CB-X"]
        assert api.get(f"/api/v1/sites/{left['id']}").json()["chargeBoxIds"] == ["CB-2L2"]
        assert ChargeBox.objects.get(charge_box_id="CB-101").node is None

    def test_an_unknown_charge_box_is_a_400_and_changes_nothing(self, api, building):
        floor1 = find(building, "Floor 1")
        body = {"name": "Renamed", "chargeBoxIds": ["CB-X", "NO-SUCH-BOX"]}
        assert_api_error(api.put(f"/api/v1/sites/{floor1['id']}", body, format="json"), 400, "chargeBoxIds")
        assert api.get(f"/api/v1/sites/{building['id']}").json() == building

    def test_another_accounts_node_is_404(self, other_api, building):
        assert_api_error(other_api.get(f"/api/v1/sites/{building['id']}"), 404)
        assert_api_error(other_api.put(f"/api/v1/sites/{building['id']}", {"name": "x"}, format="json"), 404)
        assert_api_error(other_api.delete(f"/api/v1/sites/{building['id']}"), 404)


@pytest.mark.django_db
class TestSiteDelete:
    def test_it_deletes_the_subtree_unassigns_stations_and_drops_permissions(self, api, account, building):
        floor2 = Node.objects.get(pk=find(building, "Floor 2")["id"])
        left = Node.objects.get(pk=find(building, "Left wing")["id"])
        floor1 = Node.objects.get(pk=find(building, "Floor 1")["id"])
        OcppTagPermissionFactory(ocpp_tag__account=account, node=left)
        OcppTagGroupPermissionFactory(ocpp_tag_group__account=account, node=floor2)
        kept = OcppTagPermissionFactory(ocpp_tag__account=account, node=floor1)

        assert api.delete(f"/api/v1/sites/{floor2.pk}").status_code == 204

        assert not Node.objects.filter(pk__in=[floor2.pk, left.pk]).exists()
        assert set(ChargeBox.objects.filter(node__isnull=True).values_list("charge_box_id", flat=True)) == {
            "CB-2L1",
            "CB-2L2",
            "CB-X",
        }
        assert list(OcppTagPermission.objects.all()) == [kept]
        assert not OcppTagGroupPermission.objects.exists()
        assert names(api.get(f"/api/v1/sites/{building['id']}").json()) == ["Building", [["Floor 1", []]]]


@pytest.mark.django_db
def test_reading_a_subtree_takes_the_same_queries_whatever_its_size(api, account):
    def queries_for(width: int) -> int:
        root = NodeFactory(account=account)
        for i in range(width):
            child = NodeFactory(parent=root, name=f"c{i}")
            NodeFactory(parent=child, name="leaf")
            ChargeBoxFactory(account=account, node=child)
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/api/v1/sites/{root.pk}").status_code == 200
        return len(queries)

    api.get("/api/v1/sites")  # the token's first use of the minute records last_used_at
    assert queries_for(2) == queries_for(30)
