"""Who is calling: an account's API token, or an operator user's HTTP Basic credentials (SteVe's scheme)."""

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from powerfill.accounts.models import Account, ApiToken
from powerfill.accounts.selectors import api_token_by_key
from powerfill.accounts.services import api_token_touch


@dataclass(frozen=True)
class TokenClient:
    """request.user for token calls: a machine client acting for the token's account."""

    account: Account
    token: ApiToken
    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    @property
    def pk(self):
        return f"token:{self.token.pk}"

    def __str__(self):
        return f"API token {self.token.prefix}… of {self.account}"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>`. Listed first, so unauthenticated calls get 401 with this challenge."""

    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <key>'.")
        try:
            key = parts[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("Invalid token header: the key is not ASCII.") from error
        token = api_token_by_key(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        api_token_touch(token=token)
        return TokenClient(account=token.account, token=token), token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class AccountBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic with an operator user's username and password; the user's account is the caller's account."""

    def authenticate_credentials(self, userid, password, request=None):
        user, auth = super().authenticate_credentials(userid, password, request)
        if user.account_id is None:
            raise exceptions.AuthenticationFailed("This user belongs to no account and cannot use the API.")
        return user, auth
