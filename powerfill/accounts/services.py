import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from .models import Account, ApiToken

OPERATORS_GROUP = "Operators"
# Apps whose objects belong to an account: the operators' group may manage all of them (within its account).
OPERATOR_APPS = ("sites", "ocpp_core", "permissions", "priority", "roaming")
# Refreshing last_used_at on every request would turn each read into a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, account: Account, name: str = "") -> tuple[ApiToken, str]:
    """Create a token and return it with its key, which is not stored and cannot be shown again."""
    token = ApiToken(account=account, name=name)
    return token, api_token_issue(token=token)


@transaction.atomic
def api_token_issue(*, token: ApiToken) -> str:
    """Give an unsaved token a fresh key, save it and return the key."""
    key = secrets.token_hex(20)
    token.prefix = key[:8]
    token.digest = api_token_digest(key)
    token.save()
    return key


def api_token_touch(*, token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


@transaction.atomic
def account_get_or_create(*, name: str) -> tuple[Account, bool]:
    return Account.objects.get_or_create(name=name)


def operators_group_sync() -> Group:
    """Give the "Operators" group every permission on account-owned models and API tokens (the admin still scopes
    them to the operator's account)."""
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    permissions = Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS) | Permission.objects.filter(
        content_type__app_label="accounts", content_type__model="apitoken"
    )
    group.permissions.add(*permissions)
    return group
