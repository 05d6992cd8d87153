from .models import OcpiIdentity, Party


def party_by_token(tokens: list[str]) -> Party | None:
    """The party that calls us with one of these tokens (the forms an Authorization header may carry)."""
    return Party.objects.select_related("account").filter(incoming_token__in=tokens).first()


def primary_identity(account_id: int) -> OcpiIdentity | None:
    """The identity our tokens are issued under (the account's first): tokens carry one country code and party id."""
    return OcpiIdentity.objects.filter(account_id=account_id).order_by("pk").first()


def routing_headers(party: Party, *, to_role: str) -> dict:
    """OCPI's routing headers of a request to the partner in one of its roles: from our identity (the account's
    first), to the partner's role (its first of that role). Empty where either is unknown (peers that list no roles
    are still called, without them)."""
    identity = primary_identity(party.account_id)
    role = next((r for r in party.roles.all() if r.role == to_role), None)
    if identity is None or role is None:
        return {}
    return {
        "OCPI-from-country-code": identity.country_code,
        "OCPI-from-party-id": identity.party_id,
        "OCPI-to-country-code": role.country_code,
        "OCPI-to-party-id": role.party_id,
    }


def our_party_of(party: Party) -> tuple[str, str]:
    """Our country code and party id towards the partner (the account's first identity)."""
    identity = primary_identity(party.account_id)
    return (identity.country_code, identity.party_id) if identity else ("", "")
