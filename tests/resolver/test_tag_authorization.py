"""The permission rule, by the platform docs' examples (their figures as trees here)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from ocpp.v16.enums import AuthorizationStatus

from ocpp_core.models import ChargeBox
from permissions.choices import PermissionVia
from permissions.selectors import charge_boxes_allowed_for, tag_authorization, tag_may_charge, tags_allowed_at

from ..factories import (
    ChargeBoxFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
    TransactionFactory,
)


@pytest.fixture
def site(account):
    """Examples 1, 4 and 5 combined, as in example 5:

    Building
    ├── Floor 1 ── Parking lot X, Parking lot Y, Parking lot Z   (one private station each: CB-X, CB-Y, CB-Z)
    ├── Floor 2                                                   (stations CB-201, CB-202: one logical group)
    └── Floor 3 ── Left wing (CB-3L1, CB-3L2), Right wing (CB-3R1, CB-3R2)
    """
    building = NodeFactory(account=account, name="Building")
    floor1 = NodeFactory(parent=building, name="Floor 1")
    floor2 = NodeFactory(parent=building, name="Floor 2")
    floor3 = NodeFactory(parent=building, name="Floor 3")
    nodes = {
        "building": building,
        "floor1": floor1,
        "floor2": floor2,
        "floor3": floor3,
        "lot_x": NodeFactory(parent=floor1, name="Parking lot X"),
        "lot_y": NodeFactory(parent=floor1, name="Parking lot Y"),
        "lot_z": NodeFactory(parent=floor1, name="Parking lot Z"),
        "left": NodeFactory(parent=floor3, name="Left wing"),
        "right": NodeFactory(parent=floor3, name="Right wing"),
    }
    placement = {
        "CB-X": "lot_x",
        "CB-Y": "lot_y",
        "CB-Z": "lot_z",
        "CB-201": "floor2",
        "CB-202": "floor2",
        "CB-3L1": "left",
        "CB-3L2": "left",
        "CB-3R1": "right",
        "CB-3R2": "right",
    }
    for node in nodes.values():
        node.refresh_from_db()
    stations = {cb: ChargeBoxFactory(account=account, charge_box_id=cb, node=nodes[n]) for cb, n in placement.items()}
    return nodes, stations


def allowed_stations(tag) -> set[str]:
    return set(charge_boxes_allowed_for(ocpp_tag=tag).values_list("charge_box_id", flat=True))


@pytest.mark.django_db
class TestPlatformDocExamples:
    def test_example_4_a_resident_charges_only_at_their_own_parking_lot(self, account, site):
        nodes, stations = site
        residents = {lot: OcppTagFactory(account=account, id_tag=f"RESIDENT-{lot}") for lot in "XYZ"}
        for lot, tag in residents.items():
            OcppTagPermissionFactory(ocpp_tag=tag, node=nodes[f"lot_{lot.lower()}"])
        for lot, tag in residents.items():
            assert allowed_stations(tag) == {f"CB-{lot}"}
        assert not tag_may_charge(id_tag="RESIDENT-Y", charge_box=stations["CB-X"]).allowed

    def test_example_1_a_permission_on_floor_3_with_applies_to_all_children(self, account, site):
        """A role on node 3 (floor 3) with appliesToAllChildren reaches 3, 4 and 5 (its wings), not its siblings."""
        nodes, stations = site
        manager = OcppTagFactory(account=account, id_tag="MANAGER")
        OcppTagPermissionFactory(ocpp_tag=manager, node=nodes["floor3"], applies_to_all_children=True)
        assert allowed_stations(manager) == {"CB-3L1", "CB-3L2", "CB-3R1", "CB-3R2"}
        decision = tag_may_charge(id_tag="MANAGER", charge_box=stations["CB-3R2"])
        assert (decision.allowed, decision.via, decision.node_id) == (True, PermissionVia.OCPP_TAG, nodes["floor3"].pk)
        for sibling_station in ("CB-201", "CB-X"):
            assert not tag_may_charge(id_tag="MANAGER", charge_box=stations[sibling_station]).allowed

    def test_without_the_flag_a_permission_stays_on_its_own_node(self, account, site):
        nodes, _ = site
        tag = OcppTagFactory(account=account)
        OcppTagPermissionFactory(ocpp_tag=tag, node=nodes["floor3"], applies_to_all_children=False)
        assert allowed_stations(tag) == set()

    def test_a_role_on_the_root_with_the_flag_reaches_every_station(self, account, site):
        nodes, stations = site
        admin_tag = OcppTagFactory(account=account)
        OcppTagPermissionFactory(ocpp_tag=admin_tag, node=nodes["building"], applies_to_all_children=True)
        assert allowed_stations(admin_tag) == set(stations)

    def test_example_5_a_group_on_floor_2_admits_its_members_at_all_floor_2_stations(self, account, site):
        nodes, stations = site
        members = [OcppTagFactory(account=account, id_tag=f"F2-{i}") for i in range(3)]
        outsider = OcppTagFactory(account=account, id_tag="OUTSIDER")
        group = OcppTagGroupFactory(account=account, ocpp_tags=members)
        OcppTagGroupPermissionFactory(ocpp_tag_group=group, node=nodes["floor2"])
        for member in members:
            assert allowed_stations(member) == {"CB-201", "CB-202"}
            decision = tag_may_charge(id_tag=member.id_tag, charge_box=stations["CB-202"])
            assert (decision.via, decision.node_id) == (PermissionVia.OCPP_TAG_GROUP, nodes["floor2"].pk)
        assert allowed_stations(outsider) == set()
        assert set(tags_allowed_at(charge_box=stations["CB-201"]).values_list("id_tag", flat=True)) == {
            "F2-0",
            "F2-1",
            "F2-2",
        }

    def test_the_tag_is_tried_before_its_groups(self, account, site):
        nodes, stations = site
        tag = OcppTagFactory(account=account, id_tag="BOTH")
        group = OcppTagGroupFactory(account=account, ocpp_tags=[tag])
        # The group's permission sits on the station's own node, the tag's on an ancestor: the tag still wins.
        OcppTagGroupPermissionFactory(ocpp_tag_group=group, node=nodes["left"])
        OcppTagPermissionFactory(ocpp_tag=tag, node=nodes["building"], applies_to_all_children=True)
        decision = tag_may_charge(id_tag="BOTH", charge_box=stations["CB-3L1"])
        assert (decision.via, decision.node_id) == (PermissionVia.OCPP_TAG, nodes["building"].pk)

    def test_the_deepest_permission_answers(self, account, site):
        nodes, stations = site
        tag = OcppTagFactory(account=account, id_tag="DEEP")
        OcppTagPermissionFactory(ocpp_tag=tag, node=nodes["building"], applies_to_all_children=True)
        OcppTagPermissionFactory(ocpp_tag=tag, node=nodes["floor3"], applies_to_all_children=True)
        assert tag_may_charge(id_tag="DEEP", charge_box=stations["CB-3L1"]).node_id == nodes["floor3"].pk

    def test_a_station_on_no_node_admits_nobody(self, account, site):
        nodes, _ = site
        loose = ChargeBoxFactory(account=account, node=None)
        tag = OcppTagFactory(account=account, id_tag="EVERYWHERE")
        OcppTagPermissionFactory(ocpp_tag=tag, node=nodes["building"], applies_to_all_children=True)
        authorization = tag_authorization(id_tag="EVERYWHERE", charge_box=loose)
        assert authorization.status == AuthorizationStatus.invalid
        assert not authorization.permission.allowed
        assert not tags_allowed_at(charge_box=loose).exists()

    def test_another_accounts_tag_does_not_exist_here(self, account, other_account, site):
        nodes, stations = site
        OcppTagFactory(account=other_account, id_tag="FOREIGN")
        assert tag_authorization(id_tag="FOREIGN", charge_box=stations["CB-X"]).status == AuthorizationStatus.invalid


@pytest.mark.django_db
class TestIdTagInfoStatus:
    @pytest.fixture
    def station(self, account, site):
        nodes, stations = site
        return nodes, stations["CB-201"]

    def grant(self, tag, nodes):
        OcppTagPermissionFactory(ocpp_tag=tag, node=nodes["floor2"])

    def test_accepted_carries_parent_id_tag_and_expiry(self, account, station):
        nodes, box = station
        expiry = timezone.now() + timedelta(days=10)
        parent = OcppTagFactory(account=account, id_tag="FLEET")
        tag = OcppTagFactory(account=account, id_tag="car-7", parent=parent, expiry_date=expiry)
        self.grant(tag, nodes)
        authorization = tag_authorization(id_tag="CAR-7", charge_box=box)  # idTags compare case-insensitively
        assert authorization.status == AuthorizationStatus.accepted
        assert (authorization.parent_id_tag, authorization.expiry_date) == ("FLEET", expiry)

    @pytest.mark.parametrize(
        ("tag_fields", "grant", "running", "expected"),
        [
            ({}, False, 0, AuthorizationStatus.invalid),
            ({"max_active_transaction_count": 0}, True, 0, AuthorizationStatus.blocked),
            ({"max_active_transaction_count": 0}, False, 0, AuthorizationStatus.blocked),
            ({"expiry_date": timezone.now() - timedelta(seconds=1)}, True, 0, AuthorizationStatus.expired),
            ({"max_active_transaction_count": 1}, True, 1, AuthorizationStatus.concurrent_tx),
            ({"max_active_transaction_count": 2}, True, 1, AuthorizationStatus.accepted),
            ({"max_active_transaction_count": -1}, True, 5, AuthorizationStatus.accepted),
        ],
    )
    def test_the_status_follows_the_documented_order(self, account, station, tag_fields, grant, running, expected):
        nodes, box = station
        tag = OcppTagFactory(account=account, id_tag="T", **tag_fields)
        if grant:
            self.grant(tag, nodes)
        for _ in range(running):
            TransactionFactory(charge_box=box, ocpp_tag=tag)
        assert tag_authorization(id_tag="T", charge_box=box).status == expected

    def test_an_unknown_tag_is_invalid(self, station):
        assert tag_authorization(id_tag="NOBODY", charge_box=station[1]).status == AuthorizationStatus.invalid


@pytest.mark.django_db
def test_authorization_is_one_query_whatever_the_depth(account):
    tag = OcppTagFactory(account=account, id_tag="DEEP")
    group = OcppTagGroupFactory(account=account, ocpp_tags=[tag])
    node = NodeFactory(account=account)
    OcppTagGroupPermissionFactory(ocpp_tag_group=group, node=node, applies_to_all_children=True)
    for depth in range(1, 25):
        node = NodeFactory(parent=node, name=f"level {depth}")
    ChargeBoxFactory(account=account, node=node, charge_box_id="BOTTOM")
    box = ChargeBox.objects.select_related("node").get(charge_box_id="BOTTOM")
    with CaptureQueriesContext(connection) as queries:
        authorization = tag_authorization(id_tag="DEEP", charge_box=box)
    assert authorization.status == AuthorizationStatus.accepted
    assert authorization.permission.via == PermissionVia.OCPP_TAG_GROUP
    assert len(queries) == 1
