from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from ..choices import RegistrationState
from ..protocol import tokens_in_header
from ..selectors import party_by_token


class OcpiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <base64(token)>` (2.2.1), or the token as it is (2.1.1 and many 2.2 peers): the party
    whose incoming token it is. request.auth is the Party; there is no user."""

    def authenticate(self, request):
        candidates = tokens_in_header(request.headers.get("Authorization", ""))
        if not candidates:
            return None
        party = party_by_token(candidates)
        if party is None:
            raise AuthenticationFailed("Unknown token.")
        return (None, party)

    def authenticate_header(self, request):
        return "Token"


class HoldsAnyToken(BasePermission):
    """Versions, version details and credentials: token A opens them too (that is how a partner registers)."""

    message = "An OCPI token is required: Authorization: Token <token>."

    def has_permission(self, request, view):
        return request.auth is not None


class IsRegisteredParty(BasePermission):
    """Every other module: only a registered partner's token (token A gets 401)."""

    message = "This token is not (or no longer) registered: complete the credentials handshake first."

    def has_permission(self, request, view):
        return request.auth is not None and request.auth.state == RegistrationState.REGISTERED
