"""OCPI 2.1.1, spoken with partners that do not speak 2.2.1 yet (many still run it). Its objects differ from 2.2.1
in a few fields, so the platform keeps one set of services in 2.2.1 terms and converts at the edge: what a 2.1.1
partner sends becomes a 2.2.1 object before the same upsert, what we send it is made from the 2.2.1 object.

A 2.1.1 connection has one role (its endpoints say no interface): Party.ocpi211_role says which the partner plays,
and we play the other. Modules spoken with 2.1.1 partners: credentials, locations and tokens (with real-time
authorization), sessions, CDRs, tariffs and commands (as CPO)."""

from rest_framework import serializers

from .choices import AllowedType, OcpiRole
from .objects import (
    BusinessDetailsSerializer,
    DisplayTextSerializer,
    LocationReferencesSerializer,
    OcpiObject,
    first_error,
)
from .protocol import OcpiError, OcpiStatus, ci_equal, timestamp

VERSION = "2.1.1"
MODULES = ("credentials", "locations", "tokens", "sessions", "cdrs", "tariffs", "commands")  # what we speak in 2.1.1

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


class Credentials211Serializer(OcpiObject):
    token = serializers.RegexField(r"^[\x21-\x7e]+$", max_length=64)
    url = serializers.URLField(max_length=255)
    business_details = BusinessDetailsSerializer()
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)


class AuthorizationInfo211Serializer(OcpiObject):
    """An eMSP's real-time answer in 2.1.1: 2.2.1's AuthorizationInfo without the token and the reference."""

    allowed = serializers.ChoiceField(choices=AllowedType.values)
    location = LocationReferencesSerializer(required=False)
    info = DisplayTextSerializer(required=False)


class CommandResponse211Serializer(OcpiObject):
    result = serializers.ChoiceField(choices=["ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TIMEOUT", "UNKNOWN_SESSION"])


def our_endpoints(base_url: str, partner_role: str) -> list[dict]:
    """Our 2.1.1 endpoints for a partner in `partner_role`: we offer the other role's side of each module."""
    if partner_role not in (OcpiRole.CPO, OcpiRole.EMSP):
        raise OcpiError(
            "This partner's OCPI 2.1.1 role is not set: the operator chooses CPO or eMSP for it.",
            status_code=OcpiStatus.NO_MATCHING_ENDPOINTS,
        )
    side = "emsp" if partner_role == OcpiRole.CPO else "cpo"
    modules = ["locations", "tokens", "sessions", "cdrs", "tariffs"]
    if side == "cpo":
        modules.append("commands")  # a 2.1.1 eMSP commands our chargers (we send no commands in 2.1.1)
    return [
        {"identifier": "credentials", "url": f"{base_url}/ocpi/{VERSION}/credentials"},
        *({"identifier": module, "url": f"{base_url}/ocpi/{side}/{VERSION}/{module}"} for module in modules),
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
    if body.get("time_zone") is None:  # optional in 2.1.1 (absent or null), required in 2.2.1
        body["time_zone"] = "UTC"
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
    if body.get("last_updated") is None:  # absent or null: optional in a 2.1.1 PATCH
        body["last_updated"] = timestamp()
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
    if body.get("last_updated") is None:  # absent or null: optional in a 2.1.1 PATCH
        body["last_updated"] = timestamp()
    return body


def authorization_as_211(info: dict) -> dict:
    """AuthorizationInfo as 2.1.1 has it: no token, no authorization_reference."""
    return {key: value for key, value in info.items() if key in ("allowed", "location", "info")}


# Sessions, CDRs, tariffs: we send them as CPO, receive them as eMSP.

DIMENSIONS_211 = {"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"}
AUTH_METHOD_211 = {"AUTH_REQUEST": "AUTH_REQUEST", "WHITELIST": "WHITELIST", "COMMAND": "AUTH_REQUEST"}
COMMAND_RESULT_211 = {  # 2.2.1 CommandResult -> 2.1.1 CommandResponse (sent to the response_url)
    "ACCEPTED": "ACCEPTED", "CANCELED_RESERVATION": "ACCEPTED", "TIMEOUT": "TIMEOUT", "NOT_SUPPORTED": "NOT_SUPPORTED",
}  # fmt: skip


def _location_of_session_as_211(location: dict, evse_uid: str) -> dict:
    """2.1.1 puts the location in a session or CDR, with only the EVSE it ran at."""
    body = location_as_211(location)
    body["evses"] = [evse for evse in body.get("evses", []) if ci_equal(evse["uid"], evse_uid)]
    return body


def _periods_as_211(periods: list[dict]) -> list[dict]:
    return [
        {
            "start_date_time": period["start_date_time"],
            "dimensions": [d for d in period["dimensions"] if d["type"] in DIMENSIONS_211] or
            [{"type": "TIME", "volume": 0}],
        }
        for period in periods
    ]  # fmt: skip


def session_as_211(session: dict, *, location: dict) -> dict:
    body = {
        "id": session["id"],
        "start_datetime": session["start_date_time"],
        "end_datetime": session.get("end_date_time"),
        "kwh": session["kwh"],
        "auth_id": session["cdr_token"]["contract_id"],
        "auth_method": AUTH_METHOD_211[session["auth_method"]],
        "location": _location_of_session_as_211(location, session["evse_uid"]),
        "currency": session["currency"],
        "charging_periods": _periods_as_211(session.get("charging_periods", [])),
        "total_cost": session.get("total_cost", {}).get("excl_vat"),
        "status": "INVALID" if session["status"] == "RESERVATION" else session["status"],
        "last_updated": session["last_updated"],
    }
    return {key: value for key, value in body.items() if value is not None}


def cdr_as_211(cdr: dict, *, location: dict) -> dict:
    body = {
        "id": cdr["id"],
        "start_date_time": cdr["start_date_time"],
        "stop_date_time": cdr["end_date_time"],
        "auth_id": cdr["cdr_token"]["contract_id"],
        "auth_method": AUTH_METHOD_211[cdr["auth_method"]],
        "location": _location_of_session_as_211(location, cdr["cdr_location"]["evse_uid"]),
        "currency": cdr["currency"],
        "tariffs": [tariff_as_211(tariff) for tariff in cdr.get("tariffs", [])] or None,
        "charging_periods": _periods_as_211(cdr["charging_periods"]),
        "total_cost": cdr["total_cost"]["excl_vat"],
        "total_energy": cdr["total_energy"],
        "total_time": cdr["total_time"],
        "total_parking_time": cdr.get("total_parking_time"),
        "last_updated": cdr["last_updated"],
    }
    return {key: value for key, value in body.items() if value is not None}


def tariff_as_211(tariff: dict) -> dict:
    elements = [
        {
            "price_components": [
                {key: c[key] for key in ("type", "price", "step_size")} for c in element["price_components"]
            ],
            **({"restrictions": element["restrictions"]} if element.get("restrictions") else {}),
        }
        for element in tariff["elements"]
    ]
    body = {
        "id": tariff["id"],
        "currency": tariff["currency"],
        "tariff_alt_text": tariff.get("tariff_alt_text"),
        "tariff_alt_url": tariff.get("tariff_alt_url"),
        "elements": elements,
        "energy_mix": tariff.get("energy_mix"),
        "last_updated": tariff["last_updated"],
    }
    return {key: value for key, value in body.items() if value is not None}


def tariff_as_221(tariff, *, country_code: str, party_id: str) -> dict:
    if not isinstance(tariff, dict):
        raise OcpiError("A tariff must be an object.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    return {**tariff, "country_code": country_code, "party_id": party_id}


def _periods_as_221(periods):
    """2.1.1 periods may hold a FLAT dimension, which 2.2.1 has not (a flat fee is in the CDR's total_fixed_cost)."""
    if not isinstance(periods, list):
        return periods
    converted = []
    for period in periods:
        if isinstance(period, dict) and isinstance(period.get("dimensions"), list):
            kept = [d for d in period["dimensions"] if not (isinstance(d, dict) and d.get("type") == "FLAT")]
            period = {**period, "dimensions": kept or [{"type": "TIME", "volume": 0}]}
        converted.append(period)
    return converted


def _token_of_auth_id(auth_id, emsp: tuple[str, str]) -> dict:
    """2.1.1 names the driver's contract only (auth_id); 2.2.1's cdr_token is the token, of us as eMSP."""
    return {"country_code": emsp[0], "party_id": emsp[1], "uid": auth_id, "type": "OTHER", "contract_id": auth_id}


def _session_location_as_221(location) -> dict:
    """The location a 2.1.1 session or CDR carries: its id, and its EVSE and connector."""
    if not isinstance(location, dict):
        raise OcpiError("location: an object.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    evses = location.get("evses") if isinstance(location.get("evses"), list) else []
    evse = evses[0] if evses and isinstance(evses[0], dict) else {}
    connectors = evse.get("connectors") if isinstance(evse.get("connectors"), list) else []
    connector = connectors[0] if connectors and isinstance(connectors[0], dict) else {}
    return {"location": location, "evse": evse, "connector": connector}


def session_as_221(session, *, country_code: str, party_id: str, emsp: tuple[str, str]) -> dict:
    if not isinstance(session, dict):
        raise OcpiError("A session must be an object.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    where = _session_location_as_221(session.get("location"))
    body = {
        "country_code": country_code,
        "party_id": party_id,
        "id": session.get("id"),
        "start_date_time": session.get("start_datetime"),
        "end_date_time": session.get("end_datetime"),
        "kwh": session.get("kwh"),
        "cdr_token": _token_of_auth_id(session.get("auth_id"), emsp),
        "auth_method": session.get("auth_method"),
        "location_id": where["location"].get("id"),
        "evse_uid": where["evse"].get("uid"),
        "connector_id": where["connector"].get("id"),
        "meter_id": session.get("meter_id"),
        "currency": session.get("currency"),
        "charging_periods": _periods_as_221(session.get("charging_periods")),
        "total_cost": {"excl_vat": session["total_cost"]} if session.get("total_cost") is not None else None,
        "status": session.get("status"),
        "last_updated": session.get("last_updated"),
    }
    return {key: value for key, value in body.items() if value is not None}


def session_patch_as_221(patch) -> dict:
    if not isinstance(patch, dict):
        return patch
    body = dict(patch)
    for old, new in (("start_datetime", "start_date_time"), ("end_datetime", "end_date_time")):
        if old in body:
            body[new] = body.pop(old)
    if isinstance(body.get("total_cost"), int | float):
        body["total_cost"] = {"excl_vat": body["total_cost"]}
    if body.get("last_updated") is None:  # absent or null: optional in a 2.1.1 PATCH
        body["last_updated"] = timestamp()
    return body


def cdr_as_221(cdr, *, country_code: str, party_id: str, emsp: tuple[str, str]) -> dict:
    if not isinstance(cdr, dict):
        raise OcpiError("A CDR must be an object.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    where = _session_location_as_221(cdr.get("location"))
    location, evse, connector = where["location"], where["evse"], where["connector"]
    cdr_location = {
        "id": location.get("id"),
        "name": location.get("name"),
        "address": location.get("address"),
        "city": location.get("city"),
        "postal_code": location.get("postal_code") or None,
        "country": location.get("country"),
        "coordinates": location.get("coordinates"),
        "evse_uid": evse.get("uid"),
        "evse_id": evse.get("evse_id") or evse.get("uid"),
        "connector_id": connector.get("id"),
        "connector_standard": connector.get("standard"),
        "connector_format": connector.get("format"),
        "connector_power_type": connector.get("power_type"),
    }
    body = {
        "country_code": country_code,
        "party_id": party_id,
        "id": cdr.get("id"),
        "start_date_time": cdr.get("start_date_time"),
        "end_date_time": cdr.get("stop_date_time"),
        "cdr_token": _token_of_auth_id(cdr.get("auth_id"), emsp),
        "auth_method": cdr.get("auth_method"),
        "cdr_location": {key: value for key, value in cdr_location.items() if value is not None},
        "meter_id": cdr.get("meter_id"),
        "currency": cdr.get("currency"),
        "tariffs": [tariff_as_221(t, country_code=country_code, party_id=party_id) for t in cdr.get("tariffs") or []]
        or None,
        "charging_periods": _periods_as_221(cdr.get("charging_periods")),
        "total_cost": {"excl_vat": cdr["total_cost"]} if cdr.get("total_cost") is not None else None,
        "total_energy": cdr.get("total_energy"),
        "total_time": cdr.get("total_time"),
        "total_parking_time": cdr.get("total_parking_time"),
        "remark": cdr.get("remark"),
        "last_updated": cdr.get("last_updated"),
    }
    return {key: value for key, value in body.items() if value is not None}


# Commands: a 2.1.1 eMSP commands our chargers.


def command_as_221(command: str, body, *, emsp: tuple[str, str]) -> dict:
    """A 2.1.1 command as 2.2.1's: its token (START_SESSION, RESERVE_NOW) gains the eMSP's country and party."""
    if not isinstance(body, dict):
        return body
    if isinstance(body.get("token"), dict):
        return {**body, "token": token_as_221(body["token"], country_code=emsp[0], party_id=emsp[1])}
    return body


def command_response_as_211(response: dict) -> dict:
    """The answer at once: 2.1.1's CommandResponse has no timeout."""
    return {key: value for key, value in response.items() if key != "timeout"}


def command_result_as_211(result: dict) -> dict:
    """The result at the response_url: 2.1.1 posts a CommandResponse there."""
    return {"result": COMMAND_RESULT_211.get(result["result"], "REJECTED")}
