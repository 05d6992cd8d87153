from .models import ApiToken
from .services import api_token_digest


def api_token_by_key(*, key: str) -> ApiToken | None:
    return ApiToken.objects.select_related("account").filter(digest=api_token_digest(key)).first()
