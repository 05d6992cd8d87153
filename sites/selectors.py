"""Reads of site trees. A subtree of any size costs three queries: its root, its nodes, its charge boxes."""

from collections import defaultdict

from django.db.models import QuerySet

from ocpp_core.models import ChargeBox
from powerfill.accounts.models import Account

from .models import Node

NODE_FIELDS = ("id", "name", "parent_id", "max_current_a", "phases", "max_power_kw", "phase_asymmetry_limit_a")


def node_list(*, account: Account) -> QuerySet[Node]:
    return Node.objects.filter(account=account)


def site_trees(*, account: Account, root: Node | None = None) -> list[dict]:
    """The API's nested Node JSON: the subtree under `root`, or every tree of the account (a list of roots)."""
    nodes = Node.objects.filter(account=account)
    charge_boxes = ChargeBox.objects.filter(account=account, node__isnull=False)
    if root is not None:
        nodes = nodes.filter(tree_id=root.tree_id, lft__gte=root.lft, rght__lte=root.rght)
        charge_boxes = charge_boxes.filter(
            node__tree_id=root.tree_id, node__lft__gte=root.lft, node__rght__lte=root.rght
        )
    stations = defaultdict(list)
    for node_id, charge_box_id in charge_boxes.order_by("charge_box_id").values_list("node_id", "charge_box_id"):
        stations[node_id].append(charge_box_id)

    by_id: dict[int, dict] = {}
    roots = []
    for row in nodes.order_by("tree_id", "lft").values_list(*NODE_FIELDS):
        node_id, name, parent_id, max_current_a, phases, max_power_kw, asymmetry = row
        node = {
            "id": node_id,
            "name": name,
            "parentId": parent_id,
            "chargeBoxIds": stations.get(node_id, []),
            "maxCurrentA": max_current_a,
            "phases": phases,
            "maxPowerKw": max_power_kw,
            "phaseAsymmetryLimitA": asymmetry,
            "children": [],
        }
        by_id[node_id] = node
        parent = by_id.get(parent_id)
        if parent is None:  # a root, or the top of the requested subtree
            roots.append(node)
        else:
            parent["children"].append(node)
    return roots
