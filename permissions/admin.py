from django.contrib import admin

from powerfill.accounts.scoping import AccountScopedAdmin

from .models import OcppTagGroupPermission, OcppTagPermission


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
