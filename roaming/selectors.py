from .models import OcpiIdentity, Party


def party_by_token(tokens: list[str]) -> Party | None:
    """The party that calls us with one of these tokens (the forms an Authorization header may carry)."""
    return Party.objects.select_related("account").filter(incoming_token__in=tokens).first()


def primary_identity(account_id: int) -> OcpiIdentity | None:
    """The identity our tokens are issued under (the account's first): tokens carry one country code and party id."""
    return OcpiIdentity.objects.filter(account_id=account_id).order_by("pk").first()
