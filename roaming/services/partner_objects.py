"""Partner CPOs' sessions, CDRs and tariffs as we keep them as eMSP (roaming.models.PartnerObject). Pushed objects
(the CPO calls our Receiver interfaces) and pulled ones go through the same functions, so both ways converge: a
session or tariff is stored only if it is at least as new as ours; a CDR is stored once and never changed (a CPO
corrects one with a new CDR); and a CPO may write only objects under its own country code and party id."""

from django.db import IntegrityError, transaction

from ..choices import OcpiRole
from ..models import PartnerObject, Party
from ..objects import (
    CdrSerializer,
    ClientInfoSerializer,
    PushedTariffSerializer,
    SessionSerializer,
    first_error,
    is_older,
    without_nulls,
)
from ..protocol import OcpiError, OcpiStatus, ci_equal, timestamp

SERIALIZERS = {
    "sessions": SessionSerializer,
    "cdrs": CdrSerializer,
    "tariffs": PushedTariffSerializer,
    "hubclientinfo": ClientInfoSerializer,
}
WHAT = {"sessions": "session", "cdrs": "CDR", "tariffs": "tariff", "hubclientinfo": "ClientInfo"}


def partner_object_put(*, party: Party, module: str, country_code: str, party_id: str, object_id: str, data) -> bool:
    """A whole session or tariff (PUT, or one object of a pull); returns whether it was stored (False: ours is
    newer)."""
    _check_owner(party, country_code, party_id)
    if module == "tariffs" and isinstance(data, dict) and data.get("last_updated") is None:
        data = {**data, "last_updated": timestamp()}  # the spec's PUT example has none: the time we got it
    valid = _valid(module, data)
    _check_ids(data, country_code, party_id, object_id)
    ids = {"country_code": country_code, "party_id": party_id, "ocpi_id": object_id}
    return _newer_kept(party, module, ids, without_nulls(data), valid["last_updated"])


def _newer_kept(party: Party, module: str, ids: dict, data: dict, last_updated) -> bool:
    """Store the object unless what we hold is newer; returns whether it was stored. The row is found by its
    CiString ids in any case, and keeps the spelling it was created with (`data` has the one sent last)."""
    try:
        with transaction.atomic():
            return _upsert(party, module, ids, data, last_updated)
    except IntegrityError:  # created at once by a push and a pull: the other one's row is there now
        with transaction.atomic():
            return _upsert(party, module, ids, data, last_updated)


def _upsert(party: Party, module: str, ids: dict, data: dict, last_updated) -> bool:
    stored = _stored(party, module, ids["country_code"], ids["party_id"], ids["ocpi_id"], lock=True)
    if stored is None:
        PartnerObject.objects.create(partner=party, module=module, **ids, data=data, last_updated=last_updated)
        return True
    if stored.last_updated > last_updated:
        return False
    stored.data, stored.last_updated = data, last_updated
    stored.save(update_fields=["data", "last_updated", "received_at"])
    return True


@transaction.atomic
def partner_session_patch(*, party: Party, country_code: str, party_id: str, session_id: str, data) -> None:
    """Some fields of a session (PATCH): merged into what we have; charging_periods in a PATCH are appended to the
    session's, as the sessions module says. A PATCH older than what we hold (it arrived late) is acknowledged and
    changes nothing: its periods are in the newer object already."""
    _check_owner(party, country_code, party_id)
    if not isinstance(data, dict) or "last_updated" not in data:
        raise OcpiError("last_updated: a PATCH must carry it.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, "sessions", country_code, party_id, session_id, lock=True)
    if is_older(data["last_updated"], stored.last_updated):
        return
    merged = {**stored.data, **data}
    if data.get("charging_periods") is not None:
        periods = data["charging_periods"] if isinstance(data["charging_periods"], list) else None
        if periods is None:
            raise OcpiError("charging_periods: a list.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
        merged["charging_periods"] = [*stored.data.get("charging_periods", []), *periods]
    valid = _valid("sessions", merged)
    _check_ids(merged, country_code, party_id, session_id)
    stored.data, stored.last_updated = without_nulls(merged), valid["last_updated"]
    stored.save(update_fields=["data", "last_updated", "received_at"])


def partner_cdr_post(*, party: Party, data) -> tuple[PartnerObject, bool]:
    """A CDR (POST, or one object of a pull): stored the first time; the same CDR again (a retry, a pull overlapping
    a push) changes nothing. Returns the stored CDR and whether it is new."""
    valid = _valid("cdrs", data)
    country_code, party_id, cdr_id = valid["country_code"], valid["party_id"], valid["id"]
    _check_owner(party, country_code, party_id)
    stored = _stored(party, "cdrs", country_code, party_id, cdr_id)
    if stored is not None:
        return stored, False
    try:
        with transaction.atomic():
            stored = PartnerObject.objects.create(
                partner=party,
                module="cdrs",
                country_code=country_code,
                party_id=party_id,
                ocpi_id=cdr_id,
                data=without_nulls(data),
                last_updated=valid["last_updated"],
            )
    except IntegrityError:  # the same CDR came at once by push and by pull: the other one stored it
        return _stored(party, "cdrs", country_code, party_id, cdr_id), False
    return stored, True


def partner_client_info_put(*, party: Party, country_code: str, party_id: str, data) -> bool:
    """A hub tells us about one of its connected parties (hubclientinfo, Receiver interface). Only a partner that
    is a hub may; the party it names need not be one of its own roles."""
    if not party.roles.filter(role=OcpiRole.HUB).exists():
        raise OcpiError("Only a hub sends ClientInfo.", http_status=403)
    valid = _valid("hubclientinfo", data)
    if not (ci_equal(valid["country_code"], country_code) and ci_equal(valid["party_id"], party_id)):
        raise OcpiError(
            "country_code and party_id of the object differ from the URL.",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    ids = {"country_code": country_code, "party_id": party_id, "ocpi_id": valid["role"]}
    return _newer_kept(party, "hubclientinfo", ids, without_nulls(data), valid["last_updated"])


def partner_client_info(*, party: Party, country_code: str, party_id: str) -> list[dict]:
    rows = party.held_objects.filter(module="hubclientinfo", country_code=country_code, party_id=party_id)
    if not rows:
        raise OcpiError(f"No ClientInfo of {country_code}*{party_id}.", http_status=404)
    return [row.data for row in rows]


def partner_tariff_delete(*, party: Party, country_code: str, party_id: str, tariff_id: str) -> None:
    _check_owner(party, country_code, party_id)
    _stored_or_unknown(party, "tariffs", country_code, party_id, tariff_id).delete()


def partner_object(*, party: Party, module: str, country_code: str, party_id: str, object_id: str) -> dict:
    """What we have (GET on our Receiver interface, for the CPO to check)."""
    return _stored_or_unknown(party, module, country_code, party_id, object_id).data


def _check_owner(party: Party, country_code: str, party_id: str) -> None:
    if not party.roles.filter(role=OcpiRole.CPO, country_code=country_code, party_id=party_id).exists():
        raise OcpiError(
            f"{country_code}*{party_id} is not a CPO of this partner: it may write only its own objects.",
            http_status=403,
        )


def _check_ids(data: dict, country_code: str, party_id: str, object_id: str) -> None:
    if not all(
        map(ci_equal, (data["country_code"], data["party_id"], data["id"]), (country_code, party_id, object_id))
    ):
        raise OcpiError(
            "country_code, party_id and id of the object differ from the URL.",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )


def _valid(module: str, data) -> dict:
    serializer = SERIALIZERS[module](data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid {WHAT[module]}: {first_error(serializer.errors)}",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    return serializer.validated_data


def _stored(party, module, country_code, party_id, object_id, *, lock: bool = False) -> PartnerObject | None:
    rows = PartnerObject.objects.filter(
        partner=party, module=module, country_code=country_code, party_id=party_id, ocpi_id=object_id
    )
    return (rows.select_for_update() if lock else rows).first()


def _stored_or_unknown(party, module, country_code, party_id, object_id, *, lock: bool = False) -> PartnerObject:
    stored = _stored(party, module, country_code, party_id, object_id, lock=lock)
    if stored is None:
        raise OcpiError(f"Unknown {WHAT[module]} {object_id!r}.", http_status=404)
    return stored
