"""Partner CPOs' locations as we keep them as eMSP. Pushed objects (the CPO calls our Receiver interface) and pulled
ones (we page through its Sender interface) go through the same functions, so the two ways converge: an object is
stored only if it is at least as new as what we have (last_updated), whichever way it came, and a CPO may write
only locations under its own country code and party id."""

from django.db import transaction

from ..choices import OcpiRole
from ..models import PartnerLocation, Party
from ..objects import ConnectorSerializer, EvseSerializer, LocationSerializer, first_error
from ..protocol import OcpiError, OcpiStatus, unknown_location


def partner_location_put(*, party: Party, country_code: str, party_id: str, location_id: str, data) -> bool:
    """A whole location (PUT, or one object of a pull). Returns whether it was stored (False: ours is newer)."""
    _check_owner(party, country_code, party_id)
    last_updated = _valid(LocationSerializer, data, "location")["last_updated"]
    if (data["country_code"], data["party_id"], data["id"]) != (country_code, party_id, location_id):
        raise OcpiError(
            "country_code, party_id and id of the object differ from the URL.",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    with transaction.atomic():
        stored = _stored(party, country_code, party_id, location_id, lock=True)
        if stored is not None and stored.last_updated > last_updated:
            return False
        PartnerLocation.objects.update_or_create(
            partner=party,
            country_code=country_code,
            party_id=party_id,
            ocpi_id=location_id,
            defaults={"data": data, "last_updated": last_updated},
        )
    return True


@transaction.atomic
def partner_location_patch(
    *, party: Party, country_code: str, party_id: str, location_id: str, data, evse_uid=None, connector_id=None
) -> None:
    """Some fields of a location, an EVSE or a connector (PATCH): merged into what we have, the result checked
    against the field rules as a whole; last_updated is required and becomes the location's too."""
    _check_owner(party, country_code, party_id)
    if not isinstance(data, dict) or "last_updated" not in data:
        raise OcpiError("last_updated: a PATCH must carry it.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, country_code, party_id, location_id, lock=True)
    location = stored.data
    target = _evse(location, evse_uid) if evse_uid is not None else location
    if connector_id is not None:
        target = _connector(target, connector_id)
    target.update(data)
    location["last_updated"] = data["last_updated"]
    _stored_save(stored, location, _valid(LocationSerializer, location, "location")["last_updated"])


@transaction.atomic
def partner_evse_put(*, party: Party, country_code: str, party_id: str, location_id: str, evse_uid: str, data) -> None:
    """A whole EVSE of a location we have (PUT): added, or replacing the one with that uid."""
    _check_owner(party, country_code, party_id)
    last_updated = _valid(EvseSerializer, data, "EVSE")["last_updated"]
    if str(data["uid"]) != evse_uid:
        raise OcpiError("uid of the object differs from the URL.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, country_code, party_id, location_id, lock=True)
    evses = [evse for evse in stored.data.get("evses", []) if str(evse.get("uid")) != evse_uid]
    stored.data["evses"] = [*evses, data]
    stored.data["last_updated"] = data["last_updated"]
    _stored_save(stored, stored.data, last_updated)


@transaction.atomic
def partner_connector_put(
    *, party: Party, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str, data
) -> None:
    _check_owner(party, country_code, party_id)
    last_updated = _valid(ConnectorSerializer, data, "connector")["last_updated"]
    if str(data["id"]) != connector_id:
        raise OcpiError("id of the object differs from the URL.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, country_code, party_id, location_id, lock=True)
    evse = _evse(stored.data, evse_uid)
    evse["connectors"] = [*(c for c in evse["connectors"] if str(c.get("id")) != connector_id), data]
    evse["last_updated"] = stored.data["last_updated"] = data["last_updated"]
    _stored_save(stored, stored.data, last_updated)


def partner_location_object(
    *, party: Party, country_code: str, party_id: str, location_id: str, evse_uid=None, connector_id=None
):
    """What we have (GET on our Receiver interface, for the CPO to check)."""
    stored = _stored_or_unknown(party, country_code, party_id, location_id)
    target = stored.data if evse_uid is None else _evse(stored.data, evse_uid)
    return target if connector_id is None else _connector(target, connector_id)


def _check_owner(party: Party, country_code: str, party_id: str) -> None:
    if not party.roles.filter(role=OcpiRole.CPO, country_code=country_code, party_id=party_id).exists():
        raise OcpiError(
            f"{country_code}*{party_id} is not a CPO of this partner: it may write only its own locations.",
            http_status=403,
        )


def _valid(serializer_class, data, what: str) -> dict:
    """The validated object (its last_updated a datetime in UTC); a 2001 naming the first bad field."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid {what}: {first_error(serializer.errors)}", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
        )
    return serializer.validated_data


def _stored(party, country_code, party_id, location_id, *, lock: bool = False) -> PartnerLocation | None:
    rows = PartnerLocation.objects.filter(
        partner=party, country_code=country_code, party_id=party_id, ocpi_id=location_id
    )
    return (rows.select_for_update() if lock else rows).first()


def _stored_save(stored: PartnerLocation, data: dict, last_updated) -> None:
    """A change to a location we hold: the object and its last_updated (also the location's, as the spec says)."""
    stored.data = data
    stored.last_updated = last_updated
    stored.save(update_fields=["data", "last_updated", "received_at"])


def _stored_or_unknown(party, country_code, party_id, location_id, *, lock: bool = False) -> PartnerLocation:
    stored = _stored(party, country_code, party_id, location_id, lock=lock)
    if stored is None:
        raise unknown_location("location", location_id)
    return stored


def _evse(location: dict, evse_uid: str) -> dict:
    for evse in location.get("evses", []):
        if str(evse.get("uid")) == evse_uid:
            return evse
    raise unknown_location("EVSE", evse_uid)


def _connector(evse: dict, connector_id: str) -> dict:
    for connector in evse.get("connectors", []):
        if str(connector.get("id")) == connector_id:
            return connector
    raise unknown_location("connector", connector_id)
