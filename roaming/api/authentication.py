from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from ..choices import OcpiRole, RegistrationState
from ..protocol import OcpiError, tokens_in_header
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


class _PlaysRole(BasePermission):
    """A registered partner that plays `role` towards us (its credentials list it; a 2.1.1 partner has one)."""

    role = ""

    def has_permission(self, request, view):
        party = request.auth
        if party is None or party.state != RegistrationState.REGISTERED:
            return False  # 401: not a registered token
        if not party.roles.filter(role=self.role).exists():
            raise OcpiError(self.message, http_status=403)  # a partner, in the wrong role
        return True


class IsPartnerCpo(_PlaysRole):
    """Our tokens, and real-time authorization of them, are for CPOs only: an eMSP has no business with our
    customers' card numbers."""

    role = OcpiRole.CPO
    message = "Only a CPO partner may read our tokens or authorize them."


class IsPartnerEmsp(_PlaysRole):
    """Commands and charging profiles at our chargers are for eMSPs (whose customers charge there)."""

    role = OcpiRole.EMSP
    message = "Only an eMSP partner may command our chargers or set charging profiles."
