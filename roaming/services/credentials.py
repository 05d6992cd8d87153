"""The OCPI credentials handshake, both ways round, and the objects it exchanges (credentials module, 2.2.1).

A partner registers with us: an operator issues token A (party_invite) and hands it over with our versions URL;
the partner POSTs its credentials (its token B and versions URL) with token A; we read its versions and endpoints
with token B, answer with our credentials carrying token C, and from then on it calls us with C, we call it with B.
We register with a partner (party_register_with): the same with the roles swapped, from its versions URL and the
token A it issued. PUT renews (a fresh token C), DELETE ends it; either before registration is a 405, as is a
second POST.

No call to the partner runs inside a database transaction (roaming.client refuses): the partner calls us back while
it answers (our versions and endpoints with token B, during our POST), and would wait for what the transaction
holds. The handshake reads what it needs, calls the partner with no transaction open, and then writes the outcome in
a short transaction of its own; its callers (the admin's action, the credentials endpoint, `manage.py
ocpi_register`) run outside ATOMIC_REQUESTS. Once registered, either way round, the initial sync starts by itself
(roaming.tasks.party_sync_task) after the commit."""

from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from powerfill.accounts.models import Account

from .. import ocpi211
from ..choices import OcpiRole, RegistrationState
from ..client import OcpiClientError, ocpi_request
from ..models import OcpiIdentity, Party, PartyRole, new_token
from ..objects import CredentialsSerializer, first_error
from ..protocol import SUPPORTED_VERSION, OcpiError, OcpiStatus
from ..tasks import party_sync_start
from .outbox import outbox_cancel

OUR_ROLES = (OcpiRole.CPO, OcpiRole.EMSP)  # Powerfill plays both for an account: its charge boxes and its tags


def party_invite(*, account, name: str) -> Party:
    """A partner to be: token A, which the operator hands over with our versions URL."""
    return Party.objects.create(account=account, name=name)


@transaction.atomic
def party_reinvite(*, party: Party) -> Party:
    """Start over with a partner (unregistered, or its token A leaked): a fresh token A, the old tokens void, and
    nothing more sent to it."""
    party.state = RegistrationState.INVITED
    party.incoming_token = new_token()
    party.outgoing_token = ""
    party.save(update_fields=["state", "incoming_token", "outgoing_token", "updated_at"])
    outbox_cancel(partner=party)
    return party


@transaction.atomic
def account_ocpi_identity_ensure(*, account_name: str, country_code: str, party_id: str, business_name: str = ""):
    """The account (created if needed) and its OCPI identity, created from these if it has none (the scripted set-up
    on a fresh database). Raises ValidationError for a malformed or taken identity."""
    account, _ = Account.objects.get_or_create(name=account_name)
    if not account.ocpi_identities.exists():
        identity = OcpiIdentity(
            account=account,
            country_code=country_code.upper(),
            party_id=party_id.upper(),
            name=business_name or account_name,
        )
        identity.full_clean()
        identity.save()
    return account


@transaction.atomic
def party_token_a_issue(*, account, name: str) -> Party:
    """A partner to be, or one not registered (any more), with a fresh token A. A registered one keeps its tokens:
    ValidationError (a new token A would end its connection: the admin's "Issue a new token A" does that)."""
    party = Party.objects.select_for_update().filter(account=account, name=name).first()
    if party is None:
        return party_invite(account=account, name=name)
    if party.state == RegistrationState.REGISTERED:
        raise ValidationError(f"{name!r} is registered; its connection stays as it is.")
    return party_reinvite(party=party)


@transaction.atomic
def party_for_registration(
    *, account, name: str, versions_url: str, token_a: str, ocpi211_role: str = "", plain_token_header: bool = False
) -> Party:
    """The partner we are about to register with (party_register_with), from its versions URL and the token A it
    issued: created, or updated if not registered yet. Raises ValidationError for bad values or a registered one."""
    party = Party.objects.select_for_update().filter(account=account, name=name).first() or Party(
        account=account, name=name
    )
    if party.state == RegistrationState.REGISTERED:
        raise ValidationError(f"Already registered with {name!r}.")
    party.versions_url, party.outgoing_token = versions_url, token_a
    party.ocpi211_role, party.plain_token_header = ocpi211_role, plain_token_header
    party.full_clean()
    party.save()
    return party


# What we tell partners


def our_versions(base_url: str) -> list[dict]:
    return [{"version": version, "url": f"{base_url}/ocpi/{version}/details"} for version in settings.OCPI_VERSIONS]


def our_endpoints(base_url: str) -> list[dict]:
    """Our modules of 2.2.1 and the interface each serves (credentials: both ends of the handshake)."""
    credentials_url = f"{base_url}/ocpi/{SUPPORTED_VERSION}/credentials"
    cpo, emsp = f"{base_url}/ocpi/cpo/{SUPPORTED_VERSION}", f"{base_url}/ocpi/emsp/{SUPPORTED_VERSION}"
    return [
        {"identifier": "credentials", "role": "SENDER", "url": credentials_url},
        {"identifier": "credentials", "role": "RECEIVER", "url": credentials_url},
        {"identifier": "locations", "role": "SENDER", "url": f"{cpo}/locations"},
        {"identifier": "locations", "role": "RECEIVER", "url": f"{emsp}/locations"},
        {"identifier": "tokens", "role": "SENDER", "url": f"{emsp}/tokens"},
        {"identifier": "tokens", "role": "RECEIVER", "url": f"{cpo}/tokens"},
        *(
            {"identifier": module, "role": role, "url": f"{base}/{module}"}
            for module in ("sessions", "cdrs", "tariffs")
            for role, base in (("SENDER", cpo), ("RECEIVER", emsp))
        ),
        # Commands go the other way round: the CPO receives them, the eMSP (as Sender) gets the results.
        {"identifier": "commands", "role": "RECEIVER", "url": f"{cpo}/commands"},
        {"identifier": "commands", "role": "SENDER", "url": f"{emsp}/commands"},
        {"identifier": "chargingprofiles", "role": "RECEIVER", "url": f"{cpo}/chargingprofiles"},
        {"identifier": "chargingprofiles", "role": "SENDER", "url": f"{emsp}/chargingprofiles"},
        {
            "identifier": "hubclientinfo",
            "role": "RECEIVER",
            "url": f"{base_url}/ocpi/{SUPPORTED_VERSION}/hubclientinfo",
        },
    ]


def our_credentials(*, party: Party, base_url: str) -> dict:
    """The credentials object that lets the partner call us: its token, our versions URL, our roles."""
    identities = list(OcpiIdentity.objects.filter(account_id=party.account_id).order_by("country_code", "party_id"))
    if not identities:
        raise OcpiError(
            "This platform has no OCPI identity (country code, party id) for the partner's account yet.",
            status_code=OcpiStatus.SERVER_ERROR,
            http_status=500,
        )
    return {
        "token": party.incoming_token,
        "url": f"{base_url}/ocpi/versions",
        "roles": [
            {
                "role": role.value,
                "business_details": _business_details(identity),
                "party_id": identity.party_id,
                "country_code": identity.country_code,
            }
            for identity in identities
            for role in OUR_ROLES
        ],
    }


def _business_details(identity: OcpiIdentity) -> dict:
    return {"name": identity.name, **({"website": identity.website} if identity.website else {})}


# The partner registers with us


def credentials_register(*, party: Party, credentials, base_url: str, version: str = SUPPORTED_VERSION) -> dict:
    """POST /credentials with token A: read the partner's versions with its token, answer with token C. The
    connection speaks the version whose credentials endpoint was called."""
    if party.state == RegistrationState.REGISTERED:
        raise OcpiError("Already registered: use PUT to update the credentials.", http_status=405)
    return _credentials_accept(party=party, credentials=credentials, base_url=base_url, version=version)


def credentials_update(*, party: Party, credentials, base_url: str, version: str = SUPPORTED_VERSION) -> dict:
    """PUT /credentials: new credentials of the partner, and a fresh token C for it (and this version)."""
    if party.state != RegistrationState.REGISTERED:
        raise OcpiError("Not registered: POST the credentials first.", http_status=405)
    return _credentials_accept(party=party, credentials=credentials, base_url=base_url, version=version)


def our_credentials_in(version: str, *, party: Party, base_url: str) -> dict:
    """Our credentials in the shape of the version spoken with the partner."""
    credentials = our_credentials(party=party, base_url=base_url)
    if version == ocpi211.VERSION:
        return ocpi211.credentials_as_211(credentials, our_role=_our_211_role(party))
    return credentials


@transaction.atomic
def credentials_unregister(*, party: Party) -> None:
    """DELETE /credentials: the partner ends the connection; both tokens are void, and what was queued for it is
    cancelled (automated traffic ends with the credentials)."""
    if party.state != RegistrationState.REGISTERED:
        raise OcpiError("Not registered.", http_status=405)
    party.state = RegistrationState.UNREGISTERED
    party.incoming_token = new_token()  # nobody knows it: the partner's token C no longer opens anything
    party.outgoing_token = ""
    party.save(update_fields=["state", "incoming_token", "outgoing_token", "updated_at"])
    outbox_cancel(partner=party)


def _credentials_accept(*, party: Party, credentials, base_url: str, version: str) -> dict:
    """Read the partner's versions and endpoints (no transaction open: see the module's docstring), then store them
    with its token and a fresh token C, if the token it called with still opens this party by then."""
    parsed = _credentials_parsed(credentials, version=version, party=party)
    registering = party.state != RegistrationState.REGISTERED
    plain = party.plain_token_header or version == ocpi211.VERSION  # 2.1.1 reads tokens as they are
    try:
        version, endpoints = _partner_version(parsed["url"], token=parsed["token"], plain=plain, only=version)
    except OcpiClientError as error:
        raise OcpiError(
            f"Could not read the versions at {parsed['url']} with the token given: {error}",
            status_code=OcpiStatus.UNABLE_TO_USE_CLIENT_API,
            http_status=400,
        ) from error
    with transaction.atomic():
        current = Party.objects.select_for_update().get(pk=party.pk)
        if (current.state, current.incoming_token) != (party.state, party.incoming_token):
            raise OcpiError("The credentials changed meanwhile (another POST or PUT, a new token A).", http_status=405)
        party.plain_token_header = plain
        party.outgoing_token = parsed["token"]
        party.incoming_token = new_token()  # token C
        _party_connected(party, versions_url=parsed["url"], version=version, endpoints=endpoints)
        _party_roles_replace(party, parsed["roles"])
        if registering:
            # After our answer: the partner stores token C once it reads it, and only then takes our pushes.
            wait = settings.OCPI_SYNC_AFTER_REGISTRATION_SECONDS
            transaction.on_commit(partial(party_sync_start, party.pk, wait_seconds=wait), robust=True)
    return our_credentials_in(version, party=party, base_url=base_url)


# We register with a partner


def party_register_with(*, party: Party, base_url: str) -> Party:
    """Register with the partner from its versions URL and the token A it gave us (party.outgoing_token): read its
    versions and endpoints, POST our credentials with a new token B, keep the token C it answers with. Raises
    OcpiError with what went wrong, also kept in party.last_error."""
    if party.state == RegistrationState.REGISTERED:
        raise OcpiError("Already registered with this partner.", http_status=405)
    if not party.versions_url or not party.outgoing_token:
        raise OcpiError("The partner's versions URL and the token A it issued are both needed.")
    try:
        try:
            version, endpoints = _partner_version(
                party.versions_url, token=party.outgoing_token, plain=party.plain_token_header
            )
        except OcpiClientError as error:
            if error.http_status != 401 or party.plain_token_header:
                raise
            # A 2.1.1 (or early 2.2) platform reads the token as it is: ask again that way, and keep to it.
            party.plain_token_header = True
            version, endpoints = _partner_version(party.versions_url, token=party.outgoing_token, plain=True)
        credentials_url = _endpoint(endpoints, "credentials")
        if version == ocpi211.VERSION and not party.ocpi211_role:
            raise OcpiError("The partner speaks OCPI 2.1.1: choose its role (CPO or eMSP) first.")
        # Token B is saved (committed) before the POST: the partner reads our versions with it while answering.
        party.incoming_token = new_token()
        party.save(update_fields=["incoming_token", "updated_at"])
        if version == ocpi211.VERSION:
            party.plain_token_header = True  # 2.1.1 sends tokens as they are
        answer = ocpi_request(
            "POST",
            credentials_url,
            token=party.outgoing_token,
            plain_token=party.plain_token_header,
            body=our_credentials_in(version, party=party, base_url=base_url),
        )
        parsed = _credentials_parsed(answer, version=version, party=party)
    except (OcpiClientError, OcpiError) as error:
        party.last_error = str(error)
        party.save(update_fields=["last_error", "updated_at"])
        if isinstance(error, OcpiError):
            raise
        raise OcpiError(str(error), status_code=OcpiStatus.UNABLE_TO_USE_CLIENT_API, http_status=502) from error
    with transaction.atomic():
        party.outgoing_token = parsed["token"]  # token C
        _party_connected(party, versions_url=parsed["url"], version=version, endpoints=endpoints)
        _party_roles_replace(party, parsed["roles"])
        # The partner answered, so it is done: the initial sync (with eager Celery, here, before returning).
        transaction.on_commit(partial(party_sync_start, party.pk), robust=True)
    return party


# Helpers


def _credentials_parsed(credentials, *, version: str, party: Party) -> dict:
    if version == ocpi211.VERSION:
        return ocpi211.credentials_as_221(credentials, party.ocpi211_role)
    serializer = CredentialsSerializer(data=credentials)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid credentials: {first_error(serializer.errors)}",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    return serializer.validated_data


def _partner_version(versions_url: str, *, token: str, plain: bool, only: str | None = None) -> tuple[str, list[dict]]:
    """The newest version we both speak (or `only`) and the partner's endpoints of it."""
    versions = ocpi_request("GET", versions_url, token=token, plain_token=plain)
    offered = {v.get("version"): v.get("url") for v in versions or [] if isinstance(v, dict)}
    ours = [only] if only else settings.OCPI_VERSIONS
    common = [version for version in ours if version in offered]
    if not common:
        raise OcpiError(
            f"The partner offers OCPI {', '.join(sorted(filter(None, offered))) or 'nothing'}; we speak "
            f"{', '.join(ours)}.",
            status_code=OcpiStatus.UNSUPPORTED_VERSION,
        )
    version = common[0]
    details = ocpi_request("GET", offered[version], token=token, plain_token=plain) or {}
    endpoints = [e for e in details.get("endpoints", []) if isinstance(e, dict) and e.get("identifier")]
    _endpoint(endpoints, "credentials")
    return version, endpoints


def _our_211_role(party: Party) -> str:
    """The role we play towards a 2.1.1 partner: the other one."""
    return OcpiRole.EMSP if party.ocpi211_role == OcpiRole.CPO else OcpiRole.CPO


def _endpoint(endpoints: list[dict], identifier: str) -> str:
    for endpoint in endpoints:
        if endpoint.get("identifier") == identifier and endpoint.get("url"):
            return endpoint["url"]
    raise OcpiError(
        f"The partner lists no {identifier} endpoint.", status_code=OcpiStatus.NO_MATCHING_ENDPOINTS, http_status=400
    )


def _party_connected(party: Party, *, versions_url: str, version: str, endpoints: list[dict]) -> None:
    party.versions_url = versions_url
    party.version = version
    party.endpoints = endpoints
    party.state = RegistrationState.REGISTERED
    party.registered_at = timezone.now()
    party.last_error = ""
    party.save()


def _party_roles_replace(party: Party, roles: list[dict]) -> None:
    party.roles.all().delete()
    PartyRole.objects.bulk_create(
        PartyRole(
            partner=party,
            role=role["role"],
            country_code=role["country_code"].upper(),
            party_id=role["party_id"].upper(),
            business_details=dict(role["business_details"]),
        )
        for role in roles
    )
