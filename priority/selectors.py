"""Reads of connectors' user priorities: the API's priority records and the lookup of a connector by the
identifiers integrators know it by (gridX EVCS user priority API); and of a node's load as load management
recorded it (AllocationRun), for the admin's chart."""

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, QuerySet, Subquery

from ocpp_core.models import ChargeBox, Connector
from powerfill.accounts.models import Account
from sites.models import Node

from .models import AllocationRun, PriorityChange

LOAD_HISTORY_POINTS = 288  # a day at one point per five minutes


class BySerialNumber(TypedDict):
    serial_number: str
    connector_id: int


class ByChargeBoxId(TypedDict):
    charge_box_id: str
    connector_id: int


def priority_records(*, account: Account) -> QuerySet[Connector]:
    """Every outlet of the account's charge boxes (connector 0 stands for the station, not an outlet), with its
    charge box, its load row (needs) and `priority_updated_at`: when its priority last changed (None: never)."""
    last_change = PriorityChange.objects.filter(connector=OuterRef("pk")).order_by("-changed_at", "-id")
    return (
        Connector.objects.filter(charge_box__account=account, connector_id__gt=0)
        .select_related("charge_box", "load")
        .annotate(priority_updated_at=Subquery(last_change.values("changed_at")[:1]))
        .order_by("charge_box__charge_box_id", "connector_id")
    )


def connector_by_identifier(
    *,
    account: Account,
    by_serial_number: BySerialNumber | None = None,
    by_evse_id: str | None = None,
    by_charge_box_id: ByChargeBoxId | None = None,
) -> Connector | None:
    """The account's connector named by exactly one identifier, as a priority record; None if there is none.

    - `by_serial_number` matches a charge box's chargePointSerialNumber or chargeBoxSerialNumber (as its last
      BootNotification gave them), then its connector. When several of the account's charge boxes report the serial
      number, this raises a ValidationError (on `by_serial_number`) naming them rather than guess: a replaced
      station whose old record still exists, or two vendors' numbering colliding, would otherwise move the priority
      of a plug nobody meant; `by_charge_box_id` then names the station unambiguously.
    - `by_evse_id` matches the connector's EVSE ID exactly (unique across the platform).
    - `by_charge_box_id` matches the OCPP identity exactly, then the connector.
    """
    given = [identifier for identifier in (by_serial_number, by_evse_id, by_charge_box_id) if identifier is not None]
    if len(given) != 1:
        raise ValueError("Name a connector by exactly one identifier.")
    records = priority_records(account=account)
    if by_evse_id is not None:
        return records.filter(evse_id=by_evse_id).exclude(evse_id="").first()
    if by_charge_box_id is not None:
        return records.filter(
            charge_box__charge_box_id=by_charge_box_id["charge_box_id"],
            connector_id=by_charge_box_id["connector_id"],
        ).first()
    serial = by_serial_number["serial_number"]
    if not serial:  # chargers that sent no serial number have an empty one; they are not all "this" station
        return None
    matching = list(
        ChargeBox.objects.filter(account=account)
        .filter(Q(charge_point_serial_number=serial) | Q(charge_box_serial_number=serial))
        .order_by("charge_box_id")
        .values_list("pk", "charge_box_id")[:6]
    )
    if len(matching) > 1:
        names = ", ".join(charge_box_id for _, charge_box_id in matching[:5])
        raise ValidationError(
            {
                "by_serial_number": f"Several charge boxes report serial number {serial} ({names}"
                f"{', …' if len(matching) > 5 else ''}); name the station with byChargeBoxId."
            }
        )
    if not matching:
        return None
    return records.filter(charge_box_id=matching[0][0], connector_id=by_serial_number["connector_id"]).first()


@dataclass(frozen=True)
class NodeLoad:
    """A node at one recompute of its site: its limit (A per phase, None: none) and, per grid phase L1-L3, the
    current allocated and measured below it."""

    run_id: int
    computed_at: datetime
    reason: str
    limit: float | None
    allocated: list[float]
    measured: list[float]


def node_load_history(*, node: Node, since: datetime, max_points: int = LOAD_HISTORY_POINTS) -> list[NodeLoad]:
    """The node's load at the recomputes of its site since `since`, oldest first. At most `max_points`: when there
    were more runs, evenly spread ones, always with the newest. Runs from before the node was in this site (it was
    added or moved here later) have nothing about it and are left out. Two queries, three for a non-root node."""
    runs = AllocationRun.objects.filter(root=node.get_root(), computed_at__gte=since).order_by("computed_at", "pk")
    ids = list(runs.values_list("pk", flat=True))
    if len(ids) > max_points:
        last, step = len(ids) - 1, (len(ids) - 1) / max(max_points - 1, 1)
        ids = [ids[last - round(i * step)] for i in range(max_points)]
    key = str(node.pk)
    rows = runs.filter(pk__in=ids).values_list("pk", "computed_at", "reason", "nodes")
    return [
        NodeLoad(pk, computed_at, reason, loads.get("limit"), loads["allocated"], loads["measured"])
        for pk, computed_at, reason, nodes in rows
        if (loads := nodes.get(key)) is not None
    ]
