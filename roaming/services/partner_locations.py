"""Partner CPOs' locations as we keep them as eMSP. Pushed objects (the CPO calls our Receiver interface) and pulled
ones (we page through its Sender interface) go through the same functions, so the two ways converge: an object is
stored only if it is at least as new as what we have (last_updated), whichever way it came, and a CPO may write
only locations under its own country code and party id."""

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache

from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
    RegexValidator,
)
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import _UnvalidatedField
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from ..choices import OcpiRole
from ..models import PartnerLocation, Party
from ..objects import (
    ConnectorSerializer,
    EvseSerializer,
    LocationSerializer,
    OcpiObject,
    first_error,
    is_older,
    without_nulls,
)
from ..protocol import OcpiError, OcpiStatus, ci_equal, unknown_location


def partner_location_put(*, party: Party, country_code: str, party_id: str, location_id: str, data) -> bool:
    """A whole location (PUT, or one object of a pull). Returns whether it was stored (False: ours is newer)."""
    _check_owner(party, country_code, party_id)
    last_updated = _valid_last_updated(LocationSerializer, data, "location")
    if not all(
        map(ci_equal, (data["country_code"], data["party_id"], data["id"]), (country_code, party_id, location_id))
    ):
        raise OcpiError(
            "country_code, party_id and id of the object differ from the URL.",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    with transaction.atomic():
        stored = _stored_version(party, country_code, party_id, location_id)
        if stored is None:
            try:
                with transaction.atomic():
                    PartnerLocation.objects.create(
                        partner=party,
                        country_code=country_code,
                        party_id=party_id,
                        ocpi_id=location_id,
                        data=without_nulls(data),
                        last_updated=last_updated,
                    )
                return True
            except IntegrityError:  # a push and a pull of a new location crossed: the one that came second compares
                stored = _stored_version(party, country_code, party_id, location_id)
        pk, stored_last_updated = stored
        if stored_last_updated > last_updated:
            return False
        PartnerLocation.objects.filter(pk=pk).update(
            data=without_nulls(data), last_updated=last_updated, received_at=timezone.now()
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
    if is_older(data["last_updated"], target.get("last_updated")):
        return  # a late PATCH (a retry arriving after a newer change): what we hold is newer
    for fixed in ("id", "uid", "country_code", "party_id"):
        if fixed in data and fixed in target and not ci_equal(data[fixed], target[fixed]):
            raise OcpiError(
                f"{fixed}: cannot be changed by a PATCH.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
            )
    target.update(data)
    location["last_updated"] = data["last_updated"]
    _stored_save(stored, location, _valid_last_updated(LocationSerializer, location, "location"))


@transaction.atomic
def partner_evse_put(*, party: Party, country_code: str, party_id: str, location_id: str, evse_uid: str, data) -> None:
    """A whole EVSE of a location we have (PUT): added, or replacing the one with that uid."""
    _check_owner(party, country_code, party_id)
    last_updated = _valid_last_updated(EvseSerializer, data, "EVSE")
    if not ci_equal(data["uid"], evse_uid):
        raise OcpiError("uid of the object differs from the URL.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, country_code, party_id, location_id, lock=True)
    evses = [evse for evse in stored.data.get("evses", []) if not ci_equal(evse.get("uid"), evse_uid)]
    stored.data["evses"] = [*evses, without_nulls(data)]
    stored.data["last_updated"] = data["last_updated"]
    _stored_save(stored, stored.data, last_updated)


@transaction.atomic
def partner_connector_put(
    *, party: Party, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str, data
) -> None:
    _check_owner(party, country_code, party_id)
    last_updated = _valid_last_updated(ConnectorSerializer, data, "connector")
    if not ci_equal(data["id"], connector_id):
        raise OcpiError("id of the object differs from the URL.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, country_code, party_id, location_id, lock=True)
    evse = _evse(stored.data, evse_uid)
    kept = (c for c in evse["connectors"] if not ci_equal(c.get("id"), connector_id))
    evse["connectors"] = [*kept, without_nulls(data)]
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
    prefetch_related_objects([party], "roles")  # once for each Party object: a pull checks thousands with one
    if not any(
        role.role == OcpiRole.CPO and ci_equal(role.country_code, country_code) and ci_equal(role.party_id, party_id)
        for role in party.roles.all()
    ):
        raise OcpiError(
            f"{country_code}*{party_id} is not a CPO of this partner: it may write only its own locations.",
            http_status=403,
        )


def _valid_last_updated(serializer_class, data, what: str) -> datetime:
    """The object's last_updated (a datetime in UTC) if the object keeps the field rules; a 2001 naming the first bad
    field if not. A pull brings thousands of locations of ten EVSEs and more, and DRF takes milliseconds for each
    (building the nested serializer, then each field's validators): a check compiled once from the same serializer
    passes the plain values JSON gives in microseconds and leaves every other value to the DRF field itself; only an
    object it refuses meets a serializer of its own, whose errors name the field as DRF words it."""
    serializer, check = _compiled(serializer_class)
    if check(data):
        return serializer.fields["last_updated"].run_validation(data["last_updated"])
    serializer = serializer_class(data=data)
    serializer.is_valid()
    raise OcpiError(
        f"Invalid {what}: {first_error(serializer.errors)}", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
    )


@cache
def _compiled(serializer_class) -> tuple[serializers.Serializer, Callable[[object], bool]]:
    serializer = serializer_class()
    return serializer, _check_of(serializer)


def _check_of(field) -> Callable[[object], bool]:
    """Whether DRF finds `value` valid for `field` (a field or a serializer). Exact for every value: the quick tests
    below only pass what DRF passes, and whatever they do not pass is up to the field's own run_validation."""

    def by_drf(value) -> bool:
        try:
            field.run_validation(value)
        except ValidationError:
            return False
        return True

    quick = _quick_test(field)
    if quick is None:
        return by_drf
    if field.allow_null:  # an optional field of an OcpiObject
        return lambda value: value is None or quick(value) or by_drf(value)
    return lambda value: quick(value) or by_drf(value)


def _quick_test(field) -> Callable[[object], bool] | None:
    """A test passing the plain values of the field kinds OCPI objects use (exact DRF classes, with only the
    validators DRF gives them), or None for other kinds. Limits come from the field's own validators."""
    kind, validators = type(field), field.validators
    kinds = {type(validator) for validator in validators}
    if any(callable(getattr(validator, "limit_value", None)) for validator in validators):
        return None
    least = max((v.limit_value for v in validators if type(v) in (MinLengthValidator, MinValueValidator)), default=None)
    most = min((v.limit_value for v in validators if type(v) in (MaxLengthValidator, MaxValueValidator)), default=None)
    if isinstance(field, OcpiObject):  # its steps are OcpiObject's, which take a null optional field as omitted
        overridden = (getattr(kind, name) is not getattr(OcpiObject, name) for name in _SERIALIZER_STEPS)
        fields = [f for f in field.fields.values() if not f.read_only]
        if validators or any(overridden) or any(hasattr(field, f"validate_{f.field_name}") for f in fields):
            return None
        checks = [(f.field_name, f.required, _check_of(f)) for f in fields]
        return lambda value: (
            type(value) is dict
            and all(check(value[name]) if name in value else not required for name, required, check in checks)
        )
    if (kind is serializers.ListSerializer and not validators) or (kind is serializers.ListField and kinds <= _LENGTHS):
        item = _check_of(field.child)
        if kind is serializers.ListSerializer:
            least, most = field.min_length, field.max_length
        least = max(least or 0, 0 if field.allow_empty else 1)
        return lambda value: (
            type(value) is list
            and least <= len(value)
            and (most is None or len(value) <= most)
            and all(item(element) for element in value)
        )
    if kind in (serializers.CharField, serializers.RegexField) and kinds <= _CHAR_VALIDATORS:
        if any(type(v) is RegexValidator and v.inverse_match for v in validators):
            return None
        regexes = [re.compile(v.regex.pattern, v.regex.flags) for v in validators if type(v) is RegexValidator]
        least = max(least or 0, 1)  # "" is left to DRF (allow_blank)
        return lambda value: (
            type(value) is str
            and value.isascii()  # so no surrogates
            and "\x00" not in value
            and (not field.trim_whitespace or value.strip() == value)
            and least <= len(value)
            and (most is None or len(value) <= most)
            and all(regex.search(value) for regex in regexes)
        )
    if kind is serializers.IntegerField and kinds <= {MinValueValidator, MaxValueValidator}:
        return lambda value: (
            type(value) is int and (least is None or value >= least) and (most is None or value <= most)
        )
    if kind is serializers.ChoiceField and not validators:
        return lambda value: type(value) is str and value in field.choice_strings_to_values
    if kind is serializers.BooleanField and not validators:
        return lambda value: type(value) is bool
    if kind is serializers.DictField and not validators and type(field.child) is _UnvalidatedField:
        return lambda value: type(value) is dict and (field.allow_empty or len(value) > 0)
    return None


_SERIALIZER_STEPS = ("run_validation", "to_internal_value", "validate", "run_validators")
_LENGTHS = {MaxLengthValidator, MinLengthValidator}
_CHAR_VALIDATORS = {*_LENGTHS, ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator, RegexValidator}


def _stored_version(party, country_code, party_id, location_id) -> tuple[int, datetime] | None:
    """(pk, last_updated) of what we hold, locked until the transaction ends; None if nothing."""
    rows = PartnerLocation.objects.filter(
        partner=party, country_code=country_code, party_id=party_id, ocpi_id=location_id
    )
    return rows.select_for_update().values_list("pk", "last_updated").first()


def _stored(party, country_code, party_id, location_id, *, lock: bool = False) -> PartnerLocation | None:
    rows = PartnerLocation.objects.filter(
        partner=party, country_code=country_code, party_id=party_id, ocpi_id=location_id
    )
    return (rows.select_for_update() if lock else rows).first()


def _stored_save(stored: PartnerLocation, data: dict, last_updated) -> None:
    """A change to a location we hold: the object and its last_updated (also the location's, as the spec says). A
    PATCH's null field is gone from what we keep (null and omitted mean the same)."""
    stored.data = without_nulls(data)
    stored.last_updated = last_updated
    stored.save(update_fields=["data", "last_updated", "received_at"])


def _stored_or_unknown(party, country_code, party_id, location_id, *, lock: bool = False) -> PartnerLocation:
    stored = _stored(party, country_code, party_id, location_id, lock=lock)
    if stored is None:
        raise unknown_location("location", location_id)
    return stored


def _evse(location: dict, evse_uid: str) -> dict:
    for evse in location.get("evses", []):
        if ci_equal(evse.get("uid"), evse_uid):
            return evse
    raise unknown_location("EVSE", evse_uid)


def _connector(evse: dict, connector_id: str) -> dict:
    for connector in evse.get("connectors", []):
        if ci_equal(connector.get("id"), connector_id):
            return connector
    raise unknown_location("connector", connector_id)
