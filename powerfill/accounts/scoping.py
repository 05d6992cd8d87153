"""Tenancy in the admin: staff users see and change only their account's objects; superusers see every account."""

from django.contrib import admin

from .models import Account


def _has_account_field(model) -> bool:
    return any(field.name == "account" for field in model._meta.fields)


def scope_to_account(queryset, user, account_lookup: str = "account"):
    if user.is_superuser:
        return queryset
    if user.account_id is None:
        return queryset.none()
    return queryset.filter(**{account_lookup: user.account_id})


class AccountScopedAdminMixin:
    """For ModelAdmins and inlines. `account_lookup` is the path from the model to its Account."""

    account_lookup = "account"

    def get_queryset(self, request):
        return scope_to_account(super().get_queryset(request), request.user, self.account_lookup)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if db_field.name == "account" and related is Account and not request.user.is_superuser:
            # Shown but fixed: a disabled field takes its initial value whatever the browser posts, and unlike an
            # excluded field it still takes part in validation (unique names per account, clean()).
            kwargs["queryset"] = Account.objects.filter(pk=request.user.account_id)
            kwargs["initial"] = request.user.account_id
            kwargs["disabled"] = True
        elif _has_account_field(related) and "queryset" not in kwargs:
            kwargs["queryset"] = scope_to_account(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if _has_account_field(related) and "queryset" not in kwargs:
            kwargs["queryset"] = scope_to_account(related._default_manager.all(), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class AccountScopedAdmin(AccountScopedAdminMixin, admin.ModelAdmin):
    def get_list_display(self, request):
        list_display = super().get_list_display(request)
        if request.user.is_superuser and _has_account_field(self.model):
            return (*list_display, "account")
        return list_display

    def get_list_filter(self, request):
        list_filter = super().get_list_filter(request)
        if request.user.is_superuser and _has_account_field(self.model):
            return (*list_filter, "account")
        return list_filter
