"""Our charge boxes as OCPI 2.2.1 Locations (CPO side): a Location is a site node with an address; its EVSEs are
the OCPP connectors of the charge boxes in the node's subtree, one EVSE with one OCPI connector each.

last_updated of a location is the latest change of the location itself, of a connector's status, or of a charge
box (including going on- or offline, which turns its EVSEs' status to UNKNOWN), so `date_from` finds them all."""

import re
from datetime import UTC, datetime

from django.db.models import DateTimeField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from ocpp_core.models import ChargeBox, Connector

from .choices import EvseStatus
from .models import Location
from .protocol import timestamp

# OCPP 1.6 connector status -> OCPI EVSE status (a vehicle plugged in, charging or not, makes the EVSE CHARGING).
EVSE_STATUS = {
    "Available": EvseStatus.AVAILABLE,
    "Preparing": EvseStatus.CHARGING,
    "Charging": EvseStatus.CHARGING,
    "SuspendedEV": EvseStatus.CHARGING,
    "SuspendedEVSE": EvseStatus.CHARGING,
    "Finishing": EvseStatus.CHARGING,
    "Reserved": EvseStatus.RESERVED,
    "Unavailable": EvseStatus.INOPERATIVE,
    "Faulted": EvseStatus.OUTOFORDER,
}
DEFAULT_STANDARD, DEFAULT_FORMAT, NOMINAL_VOLTAGE = "IEC_62196_T2", "SOCKET", 230
_EPOCH = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())
_NOT_EMI3 = re.compile(r"[^A-Z0-9]")


def locations_of(account_id: int):
    """The account's published and unpublished locations, each annotated with its last_updated."""
    in_subtree = {
        "charge_box__node__tree_id": OuterRef("node__tree_id"),
        "charge_box__node__lft__gte": OuterRef("node__lft"),
        "charge_box__node__rght__lte": OuterRef("node__rght"),
    }
    latest_evse_change = (
        Connector.objects.filter(**in_subtree)
        .annotate(
            changed=Greatest(
                Coalesce("status_updated_at", _EPOCH),
                Coalesce("charge_box__connected_at", _EPOCH),
                Coalesce("charge_box__disconnected_at", _EPOCH),
                F("charge_box__updated_at"),
            )
        )
        .order_by("-changed")
        .values("changed")[:1]
    )
    return (
        Location.objects.filter(identity__account_id=account_id)
        .select_related("identity", "node")
        .annotate(last_updated=Greatest(F("updated_at"), Coalesce(Subquery(latest_evse_change), _EPOCH)))
    )


def location_objects(locations: list[Location]) -> list[dict]:
    """The OCPI Location objects of these locations (from locations_of, which gives their last_updated), with their
    EVSEs (two queries whatever their number)."""
    boxes_by_tree: dict[int, list[ChargeBox]] = {}
    trees = {location.node.tree_id for location in locations}
    boxes = (
        ChargeBox.objects.filter(node__tree_id__in=trees)
        .select_related("node")
        .prefetch_related("connectors")
        .order_by("charge_box_id")
    )
    for box in boxes:
        boxes_by_tree.setdefault(box.node.tree_id, []).append(box)
    objects = []
    for location in locations:
        node = location.node
        in_subtree = [
            b for b in boxes_by_tree.get(node.tree_id, []) if node.lft <= b.node.lft and b.node.rght <= node.rght
        ]
        objects.append(_location_object(location, in_subtree))
    return objects


def _location_object(location: Location, boxes: list[ChargeBox]) -> dict:
    identity = location.identity
    evses = [_evse_object(location, box, connector) for box in boxes for connector in _connectors(box)]
    body = {
        "country_code": identity.country_code,
        "party_id": identity.party_id,
        "id": location.ocpi_id,
        "publish": location.publish,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "state": location.state,
        "country": location.country,
        "coordinates": {"latitude": f"{location.latitude:.6f}", "longitude": f"{location.longitude:.6f}"},
        "parking_type": location.parking_type,
        "evses": evses,
        "time_zone": location.time_zone,
        "last_updated": timestamp(location.last_updated),
    }
    return {key: value for key, value in body.items() if value not in ("", None)}


def _connectors(box: ChargeBox) -> list[Connector]:
    # Connector 0 is the charge box as a whole in OCPP, not an outlet.
    return sorted((c for c in box.connectors.all() if c.connector_id > 0), key=lambda c: c.connector_id)


def _evse_updated(box: ChargeBox, connector: Connector) -> datetime:
    moments = [box.updated_at, connector.status_updated_at, box.connected_at, box.disconnected_at]
    return max(moment for moment in moments if moment is not None)


def evse_uid(box: ChargeBox, connector: Connector) -> str:
    """Unique on our platform and stable: the connector's row."""
    return str(connector.pk)


def _evse_object(location: Location, box: ChargeBox, connector: Connector) -> dict:
    updated = timestamp(_evse_updated(box, connector))
    status = EVSE_STATUS.get(connector.status, EvseStatus.UNKNOWN) if box.is_connected else EvseStatus.UNKNOWN
    body = {
        "uid": evse_uid(box, connector),
        "evse_id": connector.evse_id or _emi3_evse_id(location, box, connector),
        "status": status.value,
        "connectors": [
            {
                "id": "1",
                "standard": DEFAULT_STANDARD,
                "format": DEFAULT_FORMAT,
                "power_type": "AC_1_PHASE" if box.phases == 1 else "AC_3_PHASE",
                "max_voltage": NOMINAL_VOLTAGE,
                "max_amperage": int(box.max_current_a),
                "last_updated": updated,
            }
        ],
        "physical_reference": f"{box.charge_box_id[:12]} {connector.connector_id}"[:16],  # string(16)
        "last_updated": updated,
    }
    return {key: value for key, value in body.items() if value not in ("", None)}


def _emi3_evse_id(location: Location, box: ChargeBox, connector: Connector) -> str | None:
    """<country>*<operator>*E<outlet id>, the outlet id from the charge box id and connector (eMI3 allows letters and
    digits); None where that does not fit the 48 characters."""
    outlet = _NOT_EMI3.sub("", box.charge_box_id.upper())
    evse_id = f"{location.identity.country_code}*{location.identity.party_id}*E{outlet}*{connector.connector_id}"
    return evse_id if outlet and len(evse_id) <= 48 else None
