"""Calls to a partner's OCPI endpoints: the token in the form the partner reads, request and correlation ids, and the
envelope checked. A failure of any kind is one exception with a message an operator can act on."""

import uuid

import httpx
from django.db import connections

from .protocol import authorization_header

TIMEOUT_SECONDS = 15

# One client per process: it keeps connections to partners open and builds its TLS context once (a client per call
# cost ~47 ms, most of a push). httpx clients are safe to share between a worker's threads.
_client = httpx.Client(timeout=TIMEOUT_SECONDS)


class PartnerCallInTransaction(RuntimeError):
    """A call to a partner was about to start while a database transaction is open: a bug. The partner may call us
    back meanwhile (its versions, our credentials) and wait for locks this transaction holds (SQLite's write lock,
    rows we changed), and the transaction holds a connection for as long as the partner takes."""


class OcpiClientError(Exception):
    """The partner could not be reached, or answered with an error or something that is not OCPI."""

    def __init__(self, message: str, *, http_status: int | None = None, status_code: int | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code


def ocpi_request(
    method: str,
    url: str,
    *,
    token: str,
    plain_token: bool = False,
    body: dict | None = None,
    timeout: float = TIMEOUT_SECONDS,
    routing: dict | None = None,
) -> dict:
    """One call; returns the envelope's `data` (None when absent). Raises OcpiClientError. `routing`: the
    OCPI-from-* / OCPI-to-* headers (roaming.selectors.routing_headers)."""
    return _call(method, url, token=token, plain_token=plain_token, body=body, timeout=timeout, routing=routing)[0]


def ocpi_page(
    url: str, *, token: str, plain_token: bool = False, routing: dict | None = None
) -> tuple[list, str | None]:
    """One page of a module's list: its objects and the URL of the next page (the Link header), None at the end."""
    data, response = _call("GET", url, token=token, plain_token=plain_token, body=None, routing=routing)
    if not isinstance(data, list):
        raise OcpiClientError(f"GET {url}: the data of a list page is not a list.")
    next_link = response.links.get("next", {}).get("url")
    return data, next_link


def _call(
    method: str, url: str, *, token: str, plain_token: bool, body: dict | None, timeout=TIMEOUT_SECONDS, routing=None
):
    _refuse_inside_a_transaction(method, url)
    request_id = str(uuid.uuid4())
    headers = {
        **(routing or {}),
        "Authorization": authorization_header(token, plain=plain_token),
        "X-Request-ID": request_id,
        "X-Correlation-ID": request_id,
        "User-Agent": "Powerfill OCPI",
    }
    try:
        response = _client.request(method, url, headers=headers, json=body, timeout=timeout)
    except httpx.HTTPError as error:
        raise OcpiClientError(f"{method} {url}: {error.__class__.__name__}: {error}") from error
    try:
        envelope = response.json()
    except ValueError:
        raise OcpiClientError(
            f"{method} {url}: HTTP {response.status_code}, not JSON: {response.text[:200]!r}",
            http_status=response.status_code,
        ) from None
    status_code = envelope.get("status_code") if isinstance(envelope, dict) else None
    if not isinstance(status_code, int) or isinstance(status_code, bool):
        status_code = int(status_code) if isinstance(status_code, str) and status_code.isdigit() else None
    if response.status_code >= 400 or status_code is None or not 1000 <= status_code < 2000:
        message = envelope.get("status_message", "") if isinstance(envelope, dict) else ""
        raise OcpiClientError(
            f"{method} {url}: HTTP {response.status_code}, OCPI status {status_code}: {message}".rstrip(": "),
            http_status=response.status_code,
            status_code=status_code,
        )
    return envelope.get("data"), response


def _refuse_inside_a_transaction(method: str, url: str) -> None:
    """Every call to a partner runs with no transaction open: read what is needed, commit, call, then write the
    outcome in a short transaction of its own. The atomic blocks Django's test cases wrap each test in are not
    transactions of ours, and are left out."""
    for connection in connections.all(initialized_only=True):
        if any(not block._from_testcase for block in connection.atomic_blocks):
            raise PartnerCallInTransaction(f"{method} {url} inside a database transaction ({connection.alias}).")
