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
from .models import Location, OcpiIdentity
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
        .select_related("identity", "node", "tariff")
        .annotate(last_updated=Greatest(F("updated_at"), Coalesce(Subquery(latest_evse_change), _EPOCH)))
    )


def location_objects(locations: list[Location]) -> list[dict]:
    """The OCPI Location objects of these locations (from locations_of, which gives their last_updated), with their
    EVSEs (two queries whatever their number). Charge boxes and connectors are read as plain rows, not model
    instances: a page of 1,000 locations has 10,000 EVSEs and more."""
    trees = {location.node.tree_id for location in locations}
    boxes_by_tree: dict[int, list[dict]] = {}
    for box in ChargeBox.objects.filter(node__tree_id__in=trees).order_by("charge_box_id").values(*_BOX_FIELDS):
        boxes_by_tree.setdefault(box["node__tree_id"], []).append(box)
    connectors_by_box: dict[int, list[dict]] = {}
    # Connector 0 is the charge box as a whole in OCPP, not an outlet.
    connectors = Connector.objects.filter(charge_box__node__tree_id__in=trees, connector_id__gt=0)
    for connector in connectors.order_by("connector_id").values(*_CONNECTOR_FIELDS):
        connectors_by_box.setdefault(connector["charge_box_id"], []).append(connector)
    objects = []
    for location in locations:
        node = location.node
        tariff_id = location.tariff.ocpi_id if location.tariff_id else None
        evses = [
            _evse_object(location.identity, box, connector, tariff_id)
            for box in boxes_by_tree.get(node.tree_id, [])
            if node.lft <= box["node__lft"] and box["node__rght"] <= node.rght
            for connector in connectors_by_box.get(box["pk"], [])
        ]
        objects.append(_location_object(location, evses))
    return objects


_BOX_FIELDS = (
    "pk",
    "charge_box_id",
    "node__tree_id",
    "node__lft",
    "node__rght",
    "is_connected",
    "phases",
    "max_current_a",
    "updated_at",
    "connected_at",
    "disconnected_at",
)
_CONNECTOR_FIELDS = ("pk", "charge_box_id", "connector_id", "status", "status_updated_at", "evse_id")


def _location_object(location: Location, evses: list[dict]) -> dict:
    identity = location.identity
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


def evse_uid(connector_pk: int) -> str:
    """Unique on our platform and stable: the connector's row."""
    return str(connector_pk)


def _evse_object(identity: OcpiIdentity, box: dict, connector: dict, tariff_id: str | None) -> dict:
    moments = (box["updated_at"], connector["status_updated_at"], box["connected_at"], box["disconnected_at"])
    updated = timestamp(max(moment for moment in moments if moment is not None))
    status = EVSE_STATUS.get(connector["status"], EvseStatus.UNKNOWN) if box["is_connected"] else EvseStatus.UNKNOWN
    body = {
        "uid": evse_uid(connector["pk"]),
        "evse_id": connector["evse_id"] or _emi3_evse_id(identity, box["charge_box_id"], connector["connector_id"]),
        "status": status.value,
        "connectors": [
            {
                "id": "1",
                "standard": DEFAULT_STANDARD,
                "format": DEFAULT_FORMAT,
                "power_type": "AC_1_PHASE" if box["phases"] == 1 else "AC_3_PHASE",
                "max_voltage": NOMINAL_VOLTAGE,
                "max_amperage": int(box["max_current_a"]),
                **({"tariff_ids": [tariff_id]} if tariff_id else {}),
                "last_updated": updated,
            }
        ],
        "physical_reference": f"{box['charge_box_id'][:12]} {connector['connector_id']}"[:16],  # string(16)
        "last_updated": updated,
    }
    return {key: value for key, value in body.items() if value not in ("", None)}


def _emi3_evse_id(identity: OcpiIdentity, charge_box_id: str, connector_id: int) -> str | None:
    """<country>*<operator>*E<outlet id>, the outlet id from the charge box id and connector (eMI3 allows letters and
    digits); None where that does not fit the 48 characters."""
    outlet = _NOT_EMI3.sub("", charge_box_id.upper())
    evse_id = f"{identity.country_code}*{identity.party_id}*E{outlet}*{connector_id}"
    return evse_id if outlet and len(evse_id) <= 48 else None
