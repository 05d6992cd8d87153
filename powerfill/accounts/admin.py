from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from .models import Account, ApiToken, OperatorUser
from .scoping import AccountScopedAdmin
from .services import api_token_issue

admin.site.site_header = "Powerfill"
admin.site.site_title = "Powerfill"
admin.site.index_title = "Charge point management"


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Accounts and logins are the platform operator's business, not a tenant's."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Account)
class AccountAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    list_filter = ("created_at",)


@admin.register(OperatorUser)
class OperatorUserAdmin(SuperuserOnlyAdmin, UserAdmin):
    list_display = ("username", "email", "account", "is_staff", "is_superuser", "is_active", "last_login")
    list_select_related = ("account",)
    list_filter = ("account", "is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("username", "first_name", "last_name", "email", "account__name")
    autocomplete_fields = ("account",)
    fieldsets = (
        *UserAdmin.fieldsets[:1],
        ("Operator", {"fields": ("account",)}),
        *UserAdmin.fieldsets[1:],
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "account", "password1", "password2")}),)


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("account", "name")


@admin.register(ApiToken)
class ApiTokenAdmin(AccountScopedAdmin):
    form = ApiTokenForm
    list_display = ("prefix", "name", "created_at", "last_used_at")
    list_select_related = ("account",)
    search_fields = ("name", "prefix", "account__name")
    list_filter = ("created_at", "last_used_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def has_change_permission(self, request, obj=None):
        return False  # a token is created or deleted, never edited

    def save_model(self, request, obj, form, change):
        key = api_token_issue(token=obj)
        self.message_user(
            request,
            f"API token created. Copy it now, it is not shown again: {key}",
            level=messages.WARNING,
        )
