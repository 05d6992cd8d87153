from django.contrib import admin

from powerfill.accounts.scoping import AccountScopedAdmin, AccountScopedAdminMixin

from .models import OcppTagGroupPermission, OcppTagPermission


class PermissionInline(AccountScopedAdminMixin, admin.TabularInline):
    """Permissions shown and edited on a node's page (their holders) or on a group's page (their nodes)."""

    account_lookup = "node__account"
    readonly_fields = ("created_at",)
    extra = 0

    def get_fields(self, request, obj=None):
        return (*self.autocomplete_fields, "applies_to_all_children", "created_at")


@admin.register(OcppTagPermission)
class OcppTagPermissionAdmin(AccountScopedAdmin):
    account_lookup = "ocpp_tag__account"
    list_display = ("ocpp_tag", "node", "applies_to_all_children", "created_at")
    list_select_related = ("ocpp_tag", "node")
    list_filter = ("applies_to_all_children", "created_at")
    search_fields = ("ocpp_tag__id_tag", "node__name")
    autocomplete_fields = ("ocpp_tag", "node")


@admin.register(OcppTagGroupPermission)
class OcppTagGroupPermissionAdmin(AccountScopedAdmin):
    account_lookup = "ocpp_tag_group__account"
    list_display = ("ocpp_tag_group", "node", "applies_to_all_children", "created_at")
    list_select_related = ("ocpp_tag_group", "node")
    list_filter = ("applies_to_all_children", "created_at")
    search_fields = ("ocpp_tag_group__name", "node__name")
    autocomplete_fields = ("ocpp_tag_group", "node")
