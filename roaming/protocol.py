"""OCPI 2.2.1 transport rules shared by our endpoints and our client: the response envelope, the status codes, the
token in the Authorization header, timestamps.

The status codes (transport_and_format, "Status codes"): 1xxx success, 2xxx a client error (the request was wrong),
3xxx a server error (a problem on the other side), each carried in the envelope next to an HTTP status."""

import base64
import binascii
from datetime import UTC, datetime
from enum import IntEnum

SUPPORTED_VERSION = "2.2.1"


class OcpiStatus(IntEnum):
    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_OR_MISSING_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003


class OcpiError(Exception):
    """A request we refuse or cannot serve: answered with this HTTP status and OCPI status code."""

    def __init__(self, message: str, *, status_code: OcpiStatus = OcpiStatus.CLIENT_ERROR, http_status: int = 400):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.http_status = http_status


def ci_equal(one, other) -> bool:
    """Whether two CiStrings are the same (types: CiString, "case insensitive"): country codes, party ids and the
    ids the spec types so (location, EVSE, connector, token, session, CDR, tariff, reservation ids, ...)."""
    return str(one).upper() == str(other).upper()


def ci_lookup(**values) -> dict:
    """ORM lookups matching CiStrings case-insensitively where they are no CiCharField, i.e. keys inside a JSON
    column: ci_lookup(data__token__uid=x) is {"data__token__uid__iexact": x}. A CiCharField column needs none: its
    plain lookup ignores case already (roaming.fields), with the index of its unique constraint."""
    return {f"{name}__iexact": value for name, value in values.items()}


def unknown_location(kind: str, value: str) -> OcpiError:
    """A location, EVSE or connector we do not have: 404 with 2003, as the locations module asks."""
    return OcpiError(f"Unknown {kind} {value!r}.", status_code=OcpiStatus.UNKNOWN_LOCATION, http_status=404)


def unknown_token(uid: str) -> OcpiError:
    """A token we do not know: 404 with 2004."""
    return OcpiError(f"Unknown token {uid!r}.", status_code=OcpiStatus.UNKNOWN_TOKEN, http_status=404)


def public_base_url(request) -> str:
    """Where partners reach us: OCPI_PUBLIC_URL, or else the scheme and host this request came in on."""
    from django.conf import settings

    return settings.OCPI_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 in UTC with a Z, to the second, as OCPI's DateTime type wants."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(data=None, *, status_code: OcpiStatus = OcpiStatus.SUCCESS, status_message: str | None = None) -> dict:
    body = {"status_code": int(status_code), "timestamp": timestamp()}
    if data is not None:
        body["data"] = data
    if status_message:
        body["status_message"] = status_message
    return body


def authorization_header(token: str, *, plain: bool) -> str:
    """OCPI 2.2.1 sends base64(token); 2.1.1 and many 2.2 implementations send the token itself."""
    if plain:
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


def tokens_in_header(header: str) -> list[str]:
    """The tokens an Authorization header may carry: the base64-decoded value (2.2.1) and the value as sent (plain
    tokens of 2.1.1 peers). Either form identifies the party; an empty list for no "Token ..." header."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    candidates = []
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = None
    if decoded and decoded.isprintable():
        candidates.append(decoded)
    candidates.append(value)
    return candidates
