"""Writes to site trees. mptt renumbers nested sets with read-then-write queries and picks new tree ids as
max + 1, so every tree write here holds one lock for the rest of its transaction."""

from collections import Counter
from collections.abc import Iterable
from typing import NotRequired, TypedDict

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from ocpp_core.models import ChargeBox
from powerfill.accounts.models import Account
from powerfill.common.services import model_update

from .models import MAX_TREE_DEPTH, Node

TREE_LOCK_KEY = 7_304_218_553  # any constant; names the advisory lock of site tree writes
LIMIT_FIELDS = ("max_current_a", "phases", "max_power_kw", "phase_asymmetry_limit_a")
MOVE_POSITIONS = ("first-child", "last-child", "left", "right")
MPTT_FIELDS = ["tree_id", "lft", "rght", "level"]


class SiteSpec(TypedDict):
    """A node to create, with its subtree; the API's Node JSON without ids, in model field names."""

    name: str
    charge_box_ids: NotRequired[list[str]]
    children: NotRequired[list["SiteSpec"]]
    max_current_a: NotRequired[float | None]
    phases: NotRequired[int]
    max_power_kw: NotRequired[float | None]
    phase_asymmetry_limit_a: NotRequired[float | None]


def serialise_tree_writes() -> None:
    """Hold the tree-write lock until the surrounding transaction ends (SQLite serialises writers by itself)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK_KEY])


@transaction.atomic
def site_create(*, account: Account, spec: SiteSpec, parent: Node | None = None) -> Node:
    """Create a whole tree in a few queries (bulk insert level by level); under `parent` when given."""
    serialise_tree_writes()
    if parent is not None:
        parent.refresh_from_db()  # its nested-set numbers may have moved while we waited for the lock
    _validate_spec(account=account, spec=spec, parent=parent)
    charge_boxes = _charge_boxes_by_id(account=account, charge_box_ids=_spec_charge_box_ids(spec))

    flat = _flatten_spec(spec)
    records = Node.objects.build_tree_nodes(
        _spec_without_assignments(spec, account=account), target=parent, position="last-child"
    )
    # build_tree_nodes lists nodes depth-first with their nested-set numbers; give each its parent object.
    open_ancestors: list[Node] = []
    for record in records:
        del open_ancestors[record.level - (parent.level + 1 if parent else 0) :]
        record.parent = open_ancestors[-1] if open_ancestors else parent
        open_ancestors.append(record)
    for level in sorted({record.level for record in records}):
        Node.objects.bulk_create([record for record in records if record.level == level])

    now = timezone.now()
    for record, (node_spec, _) in zip(records, flat, strict=True):
        ids = node_spec.get("charge_box_ids") or []
        if ids:
            ChargeBox.objects.filter(pk__in=[charge_boxes[i].pk for i in ids]).update(node=record, updated_at=now)
    return records[0]


@transaction.atomic
def site_update(*, node: Node, data: dict) -> Node:
    """Change any of name, parent (a move), charge_box_ids (the complete set) and the electrical limits."""
    serialise_tree_writes()
    node.refresh_from_db()
    if "parent" in data and data["parent"] != node.parent:
        node = site_move(node=node, target=data["parent"])
    model_update(instance=node, data={key: data[key] for key in ("name", *LIMIT_FIELDS) if key in data})
    if "charge_box_ids" in data:
        site_assign_charge_boxes(node=node, charge_box_ids=data["charge_box_ids"])
    elif "parent" in data or any(key in data for key in LIMIT_FIELDS):
        _load_changed(node_pks=[node.pk], reason=f"site {node.name} changed")
    return node


@transaction.atomic
def site_move(*, node: Node, target: Node | None, position: str = "last-child") -> Node:
    """Move a node with its subtree: under `target` (first/last child), beside it (left/right), or to a new root."""
    serialise_tree_writes()
    if position not in MOVE_POSITIONS:
        raise ValidationError({"position": f"Use one of {', '.join(MOVE_POSITIONS)}."})
    node.refresh_from_db()
    if target is None:
        if node.is_root_node():
            return node
        node.parent = None
        node.full_clean()
        node.move_to(None)
        return node
    target.refresh_from_db()
    new_parent = target if position.endswith("child") else target.parent
    node.parent = new_parent
    node.full_clean()  # account, cycle, depth and unique sibling names
    if new_parent is None:
        node.move_to(None)
    else:
        node.move_to(target, position)
    return node


@transaction.atomic
def site_assign_charge_boxes(*, node: Node, charge_box_ids: Iterable[str]) -> None:
    """Make `charge_box_ids` the complete set of the node's stations; a station on another node moves here."""
    charge_box_ids = list(charge_box_ids)
    charge_boxes = _charge_boxes_by_id(account=node.account, charge_box_ids=charge_box_ids)
    now = timezone.now()
    keep = [charge_box.pk for charge_box in charge_boxes.values()]
    # The sites the stations leave lose their load, the node's gains it.
    left = ChargeBox.objects.filter(pk__in=keep, node__isnull=False).exclude(node=node).values_list("node", flat=True)
    _load_changed(node_pks=[node.pk, *left], reason=f"stations of {node.name} changed")
    ChargeBox.objects.filter(node=node).exclude(pk__in=keep).update(node=None, updated_at=now)
    ChargeBox.objects.filter(pk__in=keep).exclude(node=node).update(node=node, updated_at=now)


@transaction.atomic
def site_delete(*, node: Node) -> None:
    """Delete the node and its subtree: their stations become unassigned, the permissions on them go."""
    serialise_tree_writes()
    node.refresh_from_db()
    node.delete()


def _load_changed(*, node_pks: list[int], reason: str) -> None:
    # Load management (priority) builds on sites; it is imported here, late, so sites does not depend on it.
    from priority.services.load_management import nodes_rebalance_after_commit

    nodes_rebalance_after_commit(node_pks=node_pks, reason=reason)


def _charge_boxes_by_id(*, account: Account, charge_box_ids: list[str]) -> dict[str, ChargeBox]:
    duplicates = sorted(i for i, count in Counter(charge_box_ids).items() if count > 1)
    if duplicates:
        raise ValidationError({"charge_box_ids": f"Listed more than once: {', '.join(duplicates)}."})
    found = {
        charge_box.charge_box_id: charge_box
        for charge_box in ChargeBox.objects.filter(account=account, charge_box_id__in=charge_box_ids)
    }
    unknown = [i for i in charge_box_ids if i not in found]
    if unknown:
        raise ValidationError({"charge_box_ids": f"Unknown charge box: {', '.join(unknown)}."})
    return found


def _flatten_spec(spec: SiteSpec, depth: int = 0) -> list[tuple[SiteSpec, int]]:
    """Depth-first, parents before children: the order build_tree_nodes returns its records in."""
    flat = []
    stack = [(spec, depth)]
    while stack:
        node_spec, node_depth = stack.pop()
        flat.append((node_spec, node_depth))
        stack.extend((child, node_depth + 1) for child in reversed(node_spec.get("children") or []))
    return flat


def _spec_charge_box_ids(spec: SiteSpec) -> list[str]:
    return [i for node_spec, _ in _flatten_spec(spec) for i in node_spec.get("charge_box_ids") or []]


def _spec_without_assignments(spec: SiteSpec, *, account: Account) -> dict:
    return {
        "account": account,
        "name": spec["name"],
        **{key: spec[key] for key in LIMIT_FIELDS if key in spec},
        "children": [_spec_without_assignments(child, account=account) for child in spec.get("children") or []],
    }


def _validate_spec(*, account: Account, spec: SiteSpec, parent: Node | None) -> None:
    flat = _flatten_spec(spec)
    base_level = parent.level + 1 if parent else 0
    if base_level + max(depth for _, depth in flat) >= MAX_TREE_DEPTH:
        raise ValidationError({"children": f"Site trees are limited to {MAX_TREE_DEPTH} levels."})
    for node_spec, _ in flat:
        names = [child["name"] for child in node_spec.get("children") or []]
        repeated = sorted(name for name, count in Counter(names).items() if count > 1)
        if repeated:
            raise ValidationError({"children": f"Sibling nodes need distinct names: {', '.join(repeated)}."})
    for node_spec, depth in flat:
        node = Node(account=account, **{key: node_spec[key] for key in ("name", *LIMIT_FIELDS) if key in node_spec})
        if depth == 0:
            node.parent = parent
            node.full_clean(exclude=MPTT_FIELDS)  # field rules, the parent's account, a free name among siblings
        else:
            node.clean_fields(exclude=["parent", *MPTT_FIELDS])


@transaction.atomic
def node_save(*, node: Node) -> Node:
    """Save a node a form has validated (the admin); a changed parent moves the node with its subtree."""
    serialise_tree_writes()
    node.save()
    _load_changed(node_pks=[node.pk], reason=f"site {node.name} changed")
    return node
