from .models import Party


def party_by_token(tokens: list[str]) -> Party | None:
    """The party that calls us with one of these tokens (the forms an Authorization header may carry)."""
    return Party.objects.select_related("account").filter(incoming_token__in=tokens).first()
