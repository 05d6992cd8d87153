"""OCPI 2.1.1, spoken with partners that do not speak 2.2.1 yet (many still run it). Its objects differ from 2.2.1
in a few fields, so the platform keeps one set of services in 2.2.1 terms and converts at the edge: what a 2.1.1
partner sends becomes a 2.2.1 object before the same upsert, what we send it is made from the 2.2.1 object.

A 2.1.1 connection has one role (its endpoints say no interface): Party.ocpi211_role says which the partner plays,
and we play the other. Modules spoken with 2.1.1 partners: credentials, locations and tokens (with real-time
authorization)."""

from rest_framework import serializers

from .choices import OcpiRole
from .objects import BusinessDetailsSerializer, first_error
from .protocol import OcpiError, OcpiStatus, timestamp

VERSION = "2.1.1"
MODULES = ("credentials", "locations", "tokens")  # what we speak in 2.1.1

# Which interface a 2.1.1 partner's endpoint of a module is, by the partner's role.
PARTNER_INTERFACE = {
    OcpiRole.CPO: {"locations": "SENDER", "tokens": "RECEIVER", "sessions": "SENDER", "cdrs": "SENDER",
                   "tariffs": "SENDER", "commands": "RECEIVER"},
    OcpiRole.EMSP: {"locations": "RECEIVER", "tokens": "SENDER", "sessions": "RECEIVER", "cdrs": "RECEIVER",
                    "tariffs": "RECEIVER", "commands": "SENDER"},
}  # fmt: skip
LOCATION_TYPE = {  # 2.2.1 parking_type -> 2.1.1 type
    "ON_STREET": "ON_STREET",
    "PARKING_GARAGE": "PARKING_GARAGE",
    "UNDERGROUND_GARAGE": "UNDERGROUND_GARAGE",
    "PARKING_LOT": "PARKING_LOT",
    "ALONG_MOTORWAY": "OTHER",
    "ON_DRIVEWAY": "OTHER",
}
PARKING_TYPE = {value: key for key, value in LOCATION_TYPE.items() if value != "OTHER"}


class Credentials211Serializer(serializers.Serializer):
    token = serializers.RegexField(r"^[\x21-\x7e]+$", max_length=64)
    url = serializers.URLField(max_length=255)
    business_details = BusinessDetailsSerializer()
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)


def our_endpoints(base_url: str, partner_role: str) -> list[dict]:
    """Our 2.1.1 endpoints for a partner in `partner_role`: we offer the other role's side of each module."""
    if partner_role not in (OcpiRole.CPO, OcpiRole.EMSP):
        raise OcpiError(
            "This partner's OCPI 2.1.1 role is not set: the operator chooses CPO or eMSP for it.",
            status_code=OcpiStatus.NO_MATCHING_ENDPOINTS,
        )
    side = "emsp" if partner_role == OcpiRole.CPO else "cpo"
    return [
        {"identifier": "credentials", "url": f"{base_url}/ocpi/{VERSION}/credentials"},
        {"identifier": "locations", "url": f"{base_url}/ocpi/{side}/{VERSION}/locations"},
        {"identifier": "tokens", "url": f"{base_url}/ocpi/{side}/{VERSION}/tokens"},
    ]


def credentials_as_221(data, partner_role: str) -> dict:
    """A 2.1.1 credentials object as 2.2.1's, its one party in the role the operator chose for the partner."""
    serializer = Credentials211Serializer(data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid credentials: {first_error(serializer.errors)}",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    if partner_role not in (OcpiRole.CPO, OcpiRole.EMSP):
        raise OcpiError("This partner's OCPI 2.1.1 role is not set.", status_code=OcpiStatus.NO_MATCHING_ENDPOINTS)
    valid = serializer.validated_data
    role = {key: valid[key] for key in ("business_details", "party_id", "country_code")}
    return {"token": valid["token"], "url": valid["url"], "roles": [{"role": partner_role, **role}]}


def credentials_as_211(credentials: dict, our_role: str) -> dict:
    """Our 2.2.1 credentials as 2.1.1's: one party, ours in the role we play towards the partner."""
    role = next((r for r in credentials["roles"] if r["role"] == our_role), credentials["roles"][0])
    return {
        "token": credentials["token"],
        "url": credentials["url"],
        "business_details": role["business_details"],
        "party_id": role["party_id"],
        "country_code": role["country_code"],
    }


def location_as_211(location: dict) -> dict:
    body = {key: value for key, value in location.items() if key not in ("country_code", "party_id", "publish")}
    body.pop("parking_type", None)
    body["type"] = LOCATION_TYPE.get(location.get("parking_type"), "UNKNOWN")
    body.setdefault("postal_code", "")
    body["evses"] = [evse_as_211(evse) for evse in location.get("evses", [])]
    return body


def evse_as_211(evse: dict) -> dict:
    return {**evse, "connectors": [connector_as_211(c) for c in evse.get("connectors", [])]}


def connector_as_211(connector: dict) -> dict:
    body = {key: value for key, value in connector.items() if key not in ("max_voltage", "max_amperage", "tariff_ids")}
    for old, new in (("max_voltage", "voltage"), ("max_amperage", "amperage")):
        if old in connector:
            body[new] = connector[old]
    if connector.get("tariff_ids"):
        body["tariff_id"] = connector["tariff_ids"][0]
    return body


def location_as_221(location, *, country_code: str, party_id: str) -> dict:
    """A 2.1.1 location (its owner from the URL or the partner's role) as 2.2.1's."""
    if not isinstance(location, dict):
        raise OcpiError("A location must be an object.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    body = {key: value for key, value in location.items() if key != "type"}
    body.update(country_code=country_code, party_id=party_id, publish=True)
    if location.get("type") in PARKING_TYPE:
        body["parking_type"] = PARKING_TYPE[location["type"]]
    if body.get("postal_code") == "":
        del body["postal_code"]
    body.setdefault("time_zone", "UTC")  # optional in 2.1.1, required in 2.2.1
    if isinstance(location.get("evses"), list):
        body["evses"] = [evse_as_221(evse) for evse in location["evses"]]
    return body


def evse_as_221(evse) -> dict:
    if not isinstance(evse, dict):
        return evse
    body = dict(evse)
    if isinstance(evse.get("connectors"), list):
        body["connectors"] = [connector_as_221(c) for c in evse["connectors"]]
    return body


def connector_as_221(connector) -> dict:
    if not isinstance(connector, dict):
        return connector
    body = {key: value for key, value in connector.items() if key not in ("voltage", "amperage", "tariff_id")}
    for old, new in (("voltage", "max_voltage"), ("amperage", "max_amperage")):
        if old in connector:
            body[new] = connector[old]
    if connector.get("tariff_id"):
        body["tariff_ids"] = [connector["tariff_id"]]
    return body


def location_patch_as_221(patch) -> dict:
    """A 2.1.1 PATCH of a location, EVSE or connector: its renamed fields in 2.2.1 terms. 2.1.1 does not ask a
    PATCH to carry last_updated (its own examples have none): then it is the time we received it."""
    if not isinstance(patch, dict):
        return patch
    body = connector_as_221(patch)
    body.setdefault("last_updated", timestamp())
    if "type" in body:
        location_type = body.pop("type")
        if location_type in PARKING_TYPE:
            body["parking_type"] = PARKING_TYPE[location_type]
    if isinstance(body.get("evses"), list):
        body["evses"] = [evse_as_221(evse) for evse in body["evses"]]
    if isinstance(body.get("connectors"), list):
        body["connectors"] = [connector_as_221(c) for c in body["connectors"]]
    return body


def token_as_211(token: dict) -> dict:
    body = {key: value for key, value in token.items() if key not in ("country_code", "party_id", "contract_id")}
    body["auth_id"] = token["contract_id"]
    for dropped in ("group_id", "default_profile_type", "energy_contract"):
        body.pop(dropped, None)
    return body


def token_as_221(token, *, country_code: str, party_id: str) -> dict:
    if not isinstance(token, dict):
        raise OcpiError("A token must be an object.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    body = {key: value for key, value in token.items() if key != "auth_id"}
    body.update(country_code=country_code, party_id=party_id)
    if "auth_id" in token:
        body["contract_id"] = token["auth_id"]
    return body


def token_patch_as_221(patch) -> dict:
    if not isinstance(patch, dict):
        return patch
    body = {key: value for key, value in patch.items() if key != "auth_id"}
    if "auth_id" in patch:
        body["contract_id"] = patch["auth_id"]
    body.setdefault("last_updated", timestamp())
    return body


def authorization_as_211(info: dict) -> dict:
    """AuthorizationInfo as 2.1.1 has it: no token, no authorization_reference."""
    return {key: value for key, value in info.items() if key in ("allowed", "location", "info")}
