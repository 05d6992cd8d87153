"""Optional fields may be null (OCPI terminology: `?` "might be null, or the field might be omitted"; `*` "might be
null, [] or omitted"), in every object type, 2.2.1 and 2.1.1, and a null is kept as if omitted.

The walk is derived from the object declarations (every OcpiObject subclass in roaming): a complete instance of each
type is generated from its fields (every optional field present), then each field in turn is set to null: an
optional one must still be valid, a required one must not. The spec's examples are walked the same way, and the
objects partners push are sent with each optional field null through our Receiver endpoints (2.2.1 and 2.1.1), then
read back without it."""

import copy
import json

import pytest
from rest_framework import serializers

from roaming import ocpi211
from roaming.choices import OcpiRole, RegistrationState
from roaming.models import PartnerLocation, PartnerObject, Party
from roaming.objects import (
    CdrSerializer,
    CredentialsSerializer,
    LocationSerializer,
    OcpiDateTimeField,
    OcpiObject,
    PushedTariffSerializer,
    SessionSerializer,
    TariffSerializer,
    TokenSerializer,
)
from roaming.services.credentials import party_register_with

from ..e2e.ocpi_scripted_partner import scripted_partner
from ..factories import OcpiIdentityFactory, PartyFactory, PartyRoleFactory
from .clients import client_of
from .ocpi_examples import EXAMPLES

pytestmark = pytest.mark.django_db
EXAMPLE_TYPES = {  # file name prefix -> the object type the example is
    "location_example": LocationSerializer,
    "token_example": TokenSerializer,
    "token_put_example": TokenSerializer,
    "session_example": SessionSerializer,
    "cdr_example": CdrSerializer,
    "tariff_put_example": PushedTariffSerializer,
    "tariff_": TariffSerializer,
    "credentials_example": CredentialsSerializer,
}
REGEX_CANDIDATES = ["NL", "EX1", "NLD", "EUR", "52.354000", "4.901000", "10:00", "2024-01-01"]


def object_types() -> list[type[OcpiObject]]:
    found, todo = [], [OcpiObject]
    while todo:
        for subclass in todo.pop().__subclasses__():
            if subclass.__module__.startswith("roaming.") and subclass not in found:
                found.append(subclass)
            todo.append(subclass)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__name__}")


def sample(field):
    """A valid value of a declared field, every optional field of an object included."""
    if isinstance(field, OcpiObject):
        return {name: sample(child) for name, child in field.fields.items()}
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        return [sample(field.child)]
    if isinstance(field, serializers.DictField):
        return {"text": "any"}
    if isinstance(field, serializers.ChoiceField):
        return next(iter(field.choices))
    if isinstance(field, serializers.RegexField):
        return next(value for value in REGEX_CANDIDATES if _valid_for(field, value))
    if isinstance(field, serializers.URLField):
        return "https://example.com/ocpi"
    if isinstance(field, serializers.CharField):
        return "X1"
    if isinstance(field, serializers.IntegerField):
        return 1
    if isinstance(field, serializers.FloatField):
        return 1.5
    if isinstance(field, serializers.BooleanField):
        return False  # (credit: True would make credit_reference_id required)
    if isinstance(field, OcpiDateTimeField):
        return "2024-01-01T10:00:00Z"
    raise AssertionError(f"no sample for {field!r}")


def _valid_for(field, value) -> bool:
    try:
        field.run_validation(value)
    except serializers.ValidationError:
        return False
    return True


def field_paths(serializer: OcpiObject, value: dict, prefix=()):
    """(path, required) of every declared field of `value`, nested objects and the first item of lists included;
    optional fields the value leaves out are given too (then set to null, they are added)."""
    for name, field in serializer.fields.items():
        path = (*prefix, name)
        yield path, field.required
        nested = value.get(name)
        child = field.child if isinstance(field, serializers.ListSerializer) else field
        if isinstance(child, OcpiObject):
            if isinstance(nested, list) and nested and isinstance(nested[0], dict):
                yield from field_paths(child, nested[0], (*path, 0))
            elif isinstance(nested, dict):
                yield from field_paths(child, nested, path)


def with_null(value: dict, path) -> dict:
    changed = copy.deepcopy(value)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = None
    return changed


def at(value, path):
    for step in path:
        value = value[step]
    return value


def errors_of(serializer_class, data):
    serializer = serializer_class(data=data)
    return None if serializer.is_valid() else serializer.errors


@pytest.mark.parametrize("object_type", object_types(), ids=lambda cls: cls.__name__)
def test_every_optional_field_of_every_object_type_may_be_null(object_type):
    full = sample(object_type())
    assert errors_of(object_type, full) is None, "the generated instance keeps the field rules"
    optional = required = 0
    for path, is_required in field_paths(object_type(), full):
        serializer = object_type(data=with_null(full, path))
        if is_required:
            required += 1
            assert not serializer.is_valid(), f"{'.'.join(map(str, path))} is required: null is refused"
            continue
        optional += 1
        assert serializer.is_valid(), f"{'.'.join(map(str, path))}: {serializer.errors}"
        parent = at(serializer.validated_data, path[:-1])
        assert path[-1] not in parent, "a null optional field is as if omitted"
    assert optional + required == len(list(field_paths(object_type(), full)))


def test_the_walk_covers_every_optional_field_declared():
    """The figure the issue names (about 110 optional fields in roaming/objects): counted here from the
    declarations, each one walked by the test above."""
    declared = sum(
        1 for cls in object_types() for field in cls().fields.values() if not field.required and not field.read_only
    )
    assert declared >= 110


def spec_examples():
    for path in sorted(EXAMPLES.glob("*.json")):
        object_type = next((t for prefix, t in EXAMPLE_TYPES.items() if path.name.startswith(prefix)), None)
        if object_type is not None and "patch" not in path.name:
            yield pytest.param(path.name, object_type, id=path.stem)


@pytest.mark.parametrize(("name", "object_type"), list(spec_examples()))
def test_every_optional_field_of_the_spec_examples_may_be_null(name, object_type):
    example = json.loads((EXAMPLES / name).read_text())
    assert errors_of(object_type, example) is None
    for path, is_required in field_paths(object_type(), example):
        if not is_required:
            assert errors_of(object_type, with_null(example, path)) is None, ".".join(map(str, path))


# Through our Receiver endpoints: what a partner pushes, each optional field null in turn, stored as if omitted.


@pytest.fixture
def partner(account):
    party = PartyFactory(account=account, name="Both roles")
    for role in (OcpiRole.CPO, OcpiRole.EMSP):
        PartyRoleFactory(partner=party, role=role, country_code="NL", party_id="EX1")
    return client_of(party)


def optional_paths(object_type, value):
    return [path for path, is_required in field_paths(object_type(), value) if not is_required]


def pushed(object_type) -> dict:
    body = sample(object_type())
    body.update(country_code="NL", party_id="EX1")
    return body


def test_a_partner_pushes_objects_with_each_optional_field_null(partner):
    """Tokens to us as CPO; locations, sessions, tariffs and CDRs to us as eMSP. Each is read back: the null field
    is not there."""
    cases = [
        (TokenSerializer, "uid", lambda o: f"/ocpi/cpo/2.2.1/tokens/NL/EX1/{o['uid']}?type={o['type']}"),
        (LocationSerializer, "id", lambda o: f"/ocpi/emsp/2.2.1/locations/NL/EX1/{o['id']}"),
        (SessionSerializer, "id", lambda o: f"/ocpi/emsp/2.2.1/sessions/NL/EX1/{o['id']}"),
        (TariffSerializer, "id", lambda o: f"/ocpi/emsp/2.2.1/tariffs/NL/EX1/{o['id']}"),
    ]
    sent = 0
    for object_type, key, url_of in cases:
        full = pushed(object_type)
        if object_type is TokenSerializer:
            full["type"] = "RFID"
        for number, path in enumerate(optional_paths(object_type, full)):
            body = with_null(full, path)
            body[key] = f"N{number}"
            response = partner.put(url_of(body), body, format="json")
            assert response.status_code == 200, (path, response.json())
            stored = partner.get(url_of(body)).json()["data"]
            assert path[-1] not in at(stored, path[:-1]), path
            sent += 1
    cdr = pushed(CdrSerializer)
    for number, path in enumerate(optional_paths(CdrSerializer, cdr)):
        body = with_null(cdr, path)
        body["id"] = f"CDR{number}"
        response = partner.post("/ocpi/emsp/2.2.1/cdrs", body, format="json")
        assert response.status_code == 201, (path, response.json())
        stored = partner.get(response["Location"]).json()["data"]
        assert path[-1] not in at(stored, path[:-1]), path
        sent += 1
    assert sent >= 90


def test_a_patch_setting_an_optional_field_null_removes_it(partner):
    token = pushed(TokenSerializer)
    token.update(type="RFID", uid="P1")
    url = "/ocpi/cpo/2.2.1/tokens/NL/EX1/P1?type=RFID"
    assert partner.put(url, token, format="json").status_code == 200
    patch = {"visual_number": None, "energy_contract": None, "last_updated": "2024-01-02T10:00:00Z"}
    assert partner.patch(url, patch, format="json").status_code == 200
    stored = partner.get(url).json()["data"]
    assert "visual_number" not in stored and "energy_contract" not in stored
    assert stored["last_updated"] == "2024-01-02T10:00:00Z"


@pytest.fixture
def partner_211(account):
    party = PartyFactory(account=account, version="2.1.1", ocpi211_role="CPO", role=None)
    PartyRoleFactory(partner=party, role="CPO", country_code="NL", party_id="OLD")
    return party


# The fields OCPI 2.1.1 marks `?` or `*`, by object (its mod_*.md tables).
OPTIONAL_211 = {
    "Location": ["name", "related_locations", "evses", "directions", "operator", "suboperator", "owner", "facilities",
                 "time_zone", "opening_times", "charging_when_closed", "images", "energy_mix"],
    "EVSE": ["evse_id", "status_schedule", "capabilities", "floor_level", "coordinates", "physical_reference",
             "directions", "parking_restrictions", "images"],
    "Connector": ["tariff_id", "terms_and_conditions"],
    "Token": ["visual_number", "language"],
    "Session": ["end_datetime", "meter_id", "charging_periods", "total_cost"],
    "CDR": ["meter_id", "tariffs", "total_parking_time", "remark"],
    "Tariff": ["tariff_alt_text", "tariff_alt_url", "energy_mix"],
}  # fmt: skip


def has_null(value) -> bool:
    if isinstance(value, dict):
        return any(item is None or has_null(item) for item in value.values())
    return isinstance(value, list) and any(has_null(item) for item in value)


def test_a_211_partner_pushes_objects_with_each_optional_field_null(partner_211, account):
    """Every field OCPI 2.1.1 marks optional, null in turn, in the 2.1.1 shapes of a location, EVSE and connector, a
    session, a CDR and a tariff (we are its eMSP) and a token (we are its CPO): accepted, and kept without nulls."""
    OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")  # the eMSP of 2.1.1 sessions and CDRs
    cpo = client_of(partner_211, plain=True)
    location_221 = pushed(LocationSerializer)
    location = ocpi211.location_as_211(location_221)
    cases = [
        *((location, (name,)) for name in OPTIONAL_211["Location"]),
        *((location, ("evses", 0, name)) for name in OPTIONAL_211["EVSE"]),
        *((location, ("evses", 0, "connectors", 0, name)) for name in OPTIONAL_211["Connector"]),
    ]
    session = ocpi211.session_as_211(pushed(SessionSerializer), location=location_221)
    cdr = ocpi211.cdr_as_211(pushed(CdrSerializer), location=location_221)
    tariff = ocpi211.tariff_as_211(pushed(TariffSerializer))
    cases += [(session, (name,)) for name in OPTIONAL_211["Session"]]
    cases += [(cdr, (name,)) for name in OPTIONAL_211["CDR"]]
    cases += [(tariff, (name,)) for name in OPTIONAL_211["Tariff"]]
    for number, (full, path) in enumerate(cases):
        body = {**with_null(full, path), "id": f"O{number}"}
        if full is cdr:
            response = cpo.post("/ocpi/emsp/2.1.1/cdrs", body, format="json")
        else:
            module = {id(location): "locations", id(session): "sessions", id(tariff): "tariffs"}[id(full)]
            response = cpo.put(f"/ocpi/emsp/2.1.1/{module}/NL/OLD/O{number}", body, format="json")
        assert response.status_code in (200, 201), (path, response.json())
    stored = [*PartnerLocation.objects.all(), *PartnerObject.objects.all()]
    assert len(stored) == len(cases) and not any(has_null(row.data) for row in stored)

    emsp_party = PartyFactory(account=account, name="Old eMSP", version="2.1.1", ocpi211_role="EMSP", role=None)
    PartyRoleFactory(partner=emsp_party, role="EMSP", country_code="NL", party_id="OLE")
    emsp = client_of(emsp_party, plain=True)
    token = ocpi211.token_as_211({**pushed(TokenSerializer), "type": "RFID"})
    for number, name in enumerate(OPTIONAL_211["Token"]):
        url = f"/ocpi/cpo/2.1.1/tokens/NL/OLE/T{number}"
        response = emsp.put(url, {**with_null(token, (name,)), "uid": f"T{number}"}, format="json")
        assert response.status_code == 200, (name, response.json())
        assert name not in emsp.get(url).json()["data"]


def test_211_credentials_may_leave_the_website_and_logo_null():
    credentials = {
        "token": "abc",
        "url": "https://example.com/ocpi/versions",
        "business_details": {"name": "Old Mobility", "website": None, "logo": None},
        "party_id": "OLD",
        "country_code": "NL",
    }
    converted = ocpi211.credentials_as_221(credentials, "CPO")
    assert converted["roles"][0]["business_details"] == {"name": "Old Mobility"}


def _paths_of(value, prefix=()):
    """Every key of a JSON object, nested objects and the first item of lists of objects included."""
    for key, item in value.items():
        yield (*prefix, key)
        if isinstance(item, dict):
            yield from _paths_of(item, (*prefix, key))
        elif isinstance(item, list) and item and isinstance(item[0], dict):
            yield from _paths_of(item[0], (*prefix, key, 0))


def test_registering_with_a_partner_whose_credentials_leave_website_and_logo_null(account):
    """The handshake against a live partner (it answers our versions, details and credentials calls)."""
    OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    with scripted_partner() as partner:
        url = partner.url

        def envelope(data):
            return {"status_code": 1000, "timestamp": "2026-01-01T10:00:00Z", "data": data}

        details = {"version": "2.2.1", "endpoints": [
            {"identifier": "credentials", "role": "RECEIVER", "url": f"{url}/ocpi/2.2.1/credentials"},
        ]}  # fmt: skip
        credentials = {
            "token": "token-c", "url": f"{url}/ocpi/versions",
            "roles": [{
                "role": "EMSP", "country_code": "NL", "party_id": "EX1",
                "business_details": {"name": "Example", "website": None, "logo": None},
            }],
        }  # fmt: skip
        partner.answers = {
            "/ocpi/versions": envelope([{"version": "2.2.1", "url": f"{url}/ocpi/2.2.1/details"}]),
            "/ocpi/2.2.1/details": envelope(details),
            "/ocpi/2.2.1/credentials": envelope(credentials),
        }
        party = Party.objects.create(account=account, name="Example", versions_url=f"{url}/ocpi/versions")
        party.outgoing_token = "token-a"
        party_register_with(party=party, base_url="https://powerfill.example")
    party.refresh_from_db()
    assert (party.state, party.outgoing_token) == (RegistrationState.REGISTERED, "token-c")
    assert list(party.roles.values_list("business_details", flat=True)) == [{"name": "Example"}]
