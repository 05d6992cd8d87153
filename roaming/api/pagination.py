"""OCPI pagination (transport_and_format, "Pagination"): `offset` and `limit`, `date_from` (inclusive) and `date_to`
(exclusive) on last_updated, oldest first in a stable order, `X-Total-Count`, `X-Limit` and a `Link` to the next
page that keeps the filters."""

from urllib.parse import urlencode

from django.conf import settings
from django.utils.dateparse import parse_datetime
from rest_framework.response import Response

from ..protocol import OcpiError, OcpiStatus, envelope, public_base_url


def paginated_response(request, queryset, *, serialize, last_updated: str = "last_updated") -> Response:
    """One page of `queryset` (which has a `last_updated` annotation or field); `serialize` turns the page's rows
    into OCPI objects, all at once so it can load what they hold in a few queries."""
    max_limit = settings.OCPI_PAGE_LIMIT
    offset = _integer(request, "offset", 0, minimum=0)
    limit = min(_integer(request, "limit", max_limit, minimum=1), max_limit)
    filters = {}
    for name, lookup in (("date_from", "gte"), ("date_to", "lt")):
        if name in request.query_params:
            filters[f"{last_updated}__{lookup}"] = _datetime(request, name)
    rows = queryset.filter(**filters).order_by(last_updated, "pk")
    total = rows.count()
    page = list(rows[offset : offset + limit])
    response = Response(envelope(serialize(page)))
    response["X-Total-Count"] = str(total)
    response["X-Limit"] = str(limit)
    if offset + len(page) < total:
        kept = {k: v for k, v in request.query_params.items() if k in ("date_from", "date_to")}
        query = urlencode({**kept, "offset": offset + len(page), "limit": limit})
        # The public address (OCPI_PUBLIC_URL behind a TLS terminator), as in our versions and endpoints.
        response["Link"] = f'<{public_base_url(request)}{request.path}?{query}>; rel="next"'
    return response


def _integer(request, name: str, default: int, *, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise OcpiError(
            f"{name}: a whole number of at least {minimum}.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
        )
    return value


def _datetime(request, name: str):
    value = parse_datetime(request.query_params[name])
    if value is None or value.tzinfo is None:
        raise OcpiError(
            f"{name}: an RFC 3339 date and time with a zone, e.g. 2026-11-21T17:00:00Z.",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    return value
