"""Pulling modules from partners (we are the eMSP, they the CPO). OCPI says a receiver catches up by pulling: each
pull asks for what changed since the previous one began (date_from), follows the pages, and hands every object to
the same upsert as a push. A short overlap keeps objects changed while a pull ran; they come twice, and the second
time changes nothing."""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import ocpi211
from ..choices import OcpiRole
from ..client import OcpiClientError, ocpi_page
from ..models import ModuleSync, Party
from ..protocol import OcpiError
from ..selectors import our_party_of, routing_headers
from .partner_locations import partner_location_put
from .partner_objects import partner_cdr_post, partner_object_put
from .partner_tokens import partner_token_put

PULL_OVERLAP = timedelta(minutes=1)  # more than the clocks of two platforms differ, and than a page takes


def partner_locations_pull(*, party: Party) -> int:
    """Page through the partner's locations changed since the last pull; returns how many were stored."""
    return partner_module_pull(party=party, module="locations", store=_location_store)


def partner_tokens_pull(*, party: Party) -> int:
    """Page through the partner eMSP's tokens changed since the last pull; returns how many were stored."""
    return partner_module_pull(party=party, module="tokens", store=_token_store)


def partner_module_pull(*, party: Party, module: str, store: Callable[[Party, dict], bool]) -> int:
    """Page through the partner's objects of a module (its Sender interface) changed since the last pull, handing
    each to `store` (the same upsert a push goes through); returns how many were stored. Objects the field rules
    refuse are skipped (kept in the sync's last_error); a transport failure raises OcpiClientError and leaves
    date_from where it was, so the next pull asks again."""
    url = party.endpoint_url(module, "SENDER")
    if url is None:
        raise OcpiError(f"{party} lists no {module} Sender endpoint.")
    sync, _ = ModuleSync.objects.get_or_create(partner=party, module=module)
    started = timezone.now()
    if sync.pulled_until is not None:
        url += "?" + "date_from=" + (sync.pulled_until - PULL_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
    stored, refused = 0, []
    routing = routing_headers(party, to_role=OcpiRole.EMSP if module == "tokens" else OcpiRole.CPO)
    try:
        while url:
            objects, url = ocpi_page(
                url, token=party.outgoing_token, plain_token=party.plain_token_header, routing=routing
            )
            if url and not party.serves(url):
                raise OcpiClientError(f"The next page {url} is not on the partner's hosts: not followed.")
            with transaction.atomic():  # a page at a time: one commit per page, not per object
                for data in objects:
                    try:
                        if not isinstance(data, dict):
                            raise OcpiError("not an object")
                        if party.version == ocpi211.VERSION:
                            data = _as_221(party, module, data)
                        stored += store(party, data)
                    except (OcpiError, KeyError, TypeError, AttributeError, ValueError) as error:
                        refused.append(f"{_object_id(data)}: {error}")
    except OcpiClientError as error:
        sync.last_error = str(error)
        sync.save(update_fields=["last_error"])
        raise
    sync.pulled_until = started
    sync.last_pull_at = timezone.now()
    sync.last_pull_objects = stored
    sync.last_error = "; ".join(refused)[:2000]
    sync.save()
    return stored


def _object_id(data) -> str:
    if isinstance(data, dict):
        return str(data.get("id") or data.get("uid"))
    return repr(data)


def _location_store(party: Party, data: dict) -> bool:
    return partner_location_put(
        party=party,
        country_code=data["country_code"],
        party_id=data["party_id"],
        location_id=data["id"],
        data=data,
    )


def _token_store(party: Party, data: dict) -> bool:
    return partner_token_put(
        party=party,
        country_code=data["country_code"],
        party_id=data["party_id"],
        token_uid=data["uid"],
        token_type=data.get("type"),
        data=data,
    )


def _session_or_tariff_store(module: str) -> Callable[[Party, dict], bool]:
    def store(party: Party, data: dict) -> bool:
        return partner_object_put(
            party=party,
            module=module,
            country_code=data["country_code"],
            party_id=data["party_id"],
            object_id=str(data["id"]),
            data=data,
        )

    return store


def _cdr_store(party: Party, data: dict) -> bool:
    return partner_cdr_post(party=party, data=data)[1]


def _pull_of(module: str, store: Callable[[Party, dict], bool]) -> Callable[..., int]:
    def pull(*, party: Party) -> int:
        return partner_module_pull(party=party, module=module, store=store)

    return pull


# What we pull from partners, by module: as eMSP their locations, sessions, CDRs and tariffs; as CPO their tokens.
PULLS = {
    "locations": partner_locations_pull,
    "tokens": partner_tokens_pull,
    "sessions": _pull_of("sessions", _session_or_tariff_store("sessions")),
    "cdrs": _pull_of("cdrs", _cdr_store),
    "tariffs": _pull_of("tariffs", _session_or_tariff_store("tariffs")),
}


def pulled_modules(party: Party) -> list[str]:
    """The modules we pull from the partner: those it sends (its Sender interfaces) that we speak in its version."""
    modules = [module for module in PULLS if party.endpoint_url(module, "SENDER")]
    if party.version == ocpi211.VERSION:
        modules = [module for module in modules if module in ocpi211.MODULES]
    return modules


def _as_221(party: Party, module: str, data: dict) -> dict:
    """A 2.1.1 partner's object as 2.2.1's; its owner is the partner's one party (2.1.1 objects do not say), and a
    session's or CDR's token is ours (2.1.1 names only the contract)."""
    role = party.roles.first()
    if role is None:
        raise OcpiError("The partner lists no party.")
    owner = {"country_code": role.country_code, "party_id": role.party_id}
    if module == "locations":
        return ocpi211.location_as_221(data, **owner)
    if module == "tokens":
        return ocpi211.token_as_221(data, **owner)
    if module == "tariffs":
        return ocpi211.tariff_as_221(data, **owner)
    emsp = our_party_of(party)
    if module == "sessions":
        return ocpi211.session_as_221(data, **owner, emsp=emsp)
    return ocpi211.cdr_as_221(data, **owner, emsp=emsp)
