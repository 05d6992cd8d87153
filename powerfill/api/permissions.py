from rest_framework.permissions import BasePermission


class IsAccountMember(BasePermission):
    """Every API call acts for exactly one account; objects of other accounts do not exist for it."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "account", None) is not None)


def request_account(request):
    return request.user.account
