"""Property: on random forests, tags, groups and permissions, the resolver answers exactly what a naive walk up the
tree answers (tag first, then groups; the deepest reaching permission; a station on no node admits nobody)."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permissions.selectors import charge_boxes_allowed_for, permission_via, tag_may_charge, tags_allowed_at

from ..factories import (
    AccountFactory,
    ChargeBoxFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
)


@st.composite
def worlds(draw):
    node_count = draw(st.integers(1, 12))
    # Node i's parent is an earlier node or none (a new root): any forest, parents created first.
    parents = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, node_count)]
    tag_count = draw(st.integers(1, 4))
    group_count = draw(st.integers(0, 3))
    members = [draw(st.sets(st.integers(0, tag_count - 1))) for _ in range(group_count)]
    stations = draw(st.lists(st.one_of(st.none(), st.integers(0, node_count - 1)), min_size=1, max_size=5))
    node_flags = st.dictionaries(st.integers(0, node_count - 1), st.booleans(), max_size=4)
    tag_permissions = [draw(node_flags) for _ in range(tag_count)]
    group_permissions = [draw(node_flags) for _ in range(group_count)]
    return parents, tag_count, members, stations, tag_permissions, group_permissions


def naive_decision(node, parents, own, groups_of_tag, group_permissions):
    """Walk from the station's node up to its root; the nearest reaching permission wins, the tag's first."""
    if node is None:
        return (False, None, None)
    path = []
    while node is not None:
        path.append(node)
        node = parents[node]

    def nearest(permission_sets):
        for distance, candidate in enumerate(path):
            for permissions in permission_sets:
                if candidate in permissions and (distance == 0 or permissions[candidate]):
                    return candidate
        return None

    if (found := nearest([own])) is not None:
        return (True, "ocppTag", found)
    if (found := nearest([group_permissions[g] for g in groups_of_tag])) is not None:
        return (True, "ocppTagGroup", found)
    return (False, None, None)


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_the_resolver_agrees_with_a_naive_tree_walk(world):
    parents, tag_count, members, station_nodes, tag_permissions, group_permissions = world
    with transaction.atomic():
        account = AccountFactory(name="property")
        nodes = []
        for index, parent in enumerate(parents):
            nodes.append(
                NodeFactory(account=account, name=f"n{index}", parent=None if parent is None else nodes[parent])
            )
        for node in nodes:
            node.refresh_from_db()
        tags = [OcppTagFactory(account=account, id_tag=f"T{i}") for i in range(tag_count)]
        groups = [OcppTagGroupFactory(account=account, ocpp_tags=[tags[i] for i in m]) for m in members]
        for tag, permissions in zip(tags, tag_permissions, strict=True):
            for node_index, flag in permissions.items():
                OcppTagPermissionFactory(ocpp_tag=tag, node=nodes[node_index], applies_to_all_children=flag)
        for group, permissions in zip(groups, group_permissions, strict=True):
            for node_index, flag in permissions.items():
                OcppTagGroupPermissionFactory(
                    ocpp_tag_group=group, node=nodes[node_index], applies_to_all_children=flag
                )
        stations = [
            ChargeBoxFactory(account=account, charge_box_id=f"S{i}", node=None if n is None else nodes[n])
            for i, n in enumerate(station_nodes)
        ]

        index_of_node = {node.pk: index for index, node in enumerate(nodes)}
        for tag_index, tag in enumerate(tags):
            groups_of_tag = [g for g, m in enumerate(members) if tag_index in m]
            expected_everywhere = {}
            for station, node_index in zip(stations, station_nodes, strict=True):
                expected = naive_decision(
                    node_index, parents, tag_permissions[tag_index], groups_of_tag, group_permissions
                )
                decision = tag_may_charge(id_tag=tag.id_tag, charge_box=station)
                got = (decision.allowed, decision.via, index_of_node.get(decision.node_id))
                assert got == expected, (station.charge_box_id, tag.id_tag)
                if expected[0]:
                    expected_everywhere[station.charge_box_id] = expected

            # The list selectors apply the same rule.
            where = {box.charge_box_id: permission_via(box) for box in charge_boxes_allowed_for(ocpp_tag=tag)}
            assert {k: (True, v.via, index_of_node[v.node_id]) for k, v in where.items()} == expected_everywhere
            for station in stations:
                listed = tags_allowed_at(charge_box=station).filter(pk=tag.pk).exists()
                assert listed == (station.charge_box_id in expected_everywhere)
        transaction.set_rollback(True)
