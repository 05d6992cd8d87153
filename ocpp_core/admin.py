from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV

from permissions.admin import PermissionInline
from permissions.models import OcppTagGroupPermission
from permissions.selectors import charge_boxes_allowed_for, permission_via, tags_allowed_at
from powerfill.accounts.scoping import AccountScopedAdmin, scope_to_account
from sites.models import Node

from .models import ChargeBox, Connector, OcppTag, OcppTagGroup, Transaction, User
from .resources import OcppTagResource
from .selectors import active_transaction_count, ocpp_tags_expired_q
from .services import registry as services
from .validators import charger_password_validator

# The "who may charge here?" tables show this many rows; the full lists are one click away.
RESOLVER_TABLE_ROWS = 200


def _admin_link(obj) -> str:
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj)


def _resolver_table(rows, label_of, label_heading: str) -> str:
    """Render rows annotated by the permission resolver: who or what, how (tag or group), on which node."""
    rows = list(rows[: RESOLVER_TABLE_ROWS + 1])
    if not rows:
        return "Nobody." if label_heading == "OCPP tag" else "Nowhere."
    node_ids = {permission_via(row).node_id for row in rows}
    node_names = dict(Node.objects.filter(pk__in=node_ids).values_list("pk", "name"))
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (label_of(row), permission_via(row).via.label, node_names.get(permission_via(row).node_id, ""))
            for row in rows[:RESOLVER_TABLE_ROWS]
        ),
    )
    more = ""
    if len(rows) > RESOLVER_TABLE_ROWS:
        more = format_html("<p>… and more; only the first {} are shown.</p>", RESOLVER_TABLE_ROWS)
    return format_html(
        "<table><thead><tr><th>{}</th><th>through</th><th>permission held on node</th></tr></thead>"
        "<tbody>{}</tbody></table>{}",
        label_heading,
        body,
        more,
    )


class ConnectorInline(admin.TabularInline):
    model = Connector
    fields = ("connector_id", "status", "error_code", "status_updated_at", "evse_id", "priority")
    readonly_fields = ("status", "error_code", "status_updated_at")
    extra = 0


class ChargeBoxForm(forms.ModelForm):
    new_auth_password = forms.CharField(
        label="new HTTP Basic password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        validators=[charger_password_validator],
        help_text="OCPP security profile 1/2: the charger must then log in with its ID and this password "
        "(16-40 characters; stored hashed). Leave empty to keep the current one.",
    )
    clear_auth_password = forms.BooleanField(label="remove the password", required=False)

    class Meta:
        model = ChargeBox
        fields = (
            "account",
            "charge_box_id",
            "description",
            "registration_status",
            "node",
            "upstream_url",
            "max_current_a",
            "min_current_a",
            "phases",
            "phase_rotation",
        )


# What the charger reports about itself in BootNotification, shown read-only.
BOOT_NOTIFICATION_FIELDS = (
    "ocpp_protocol",
    "charge_point_vendor",
    "charge_point_model",
    "charge_point_serial_number",
    "charge_box_serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "last_boot_at",
    "last_heartbeat_at",
    "is_connected",
)


@admin.register(ChargeBox)
class ChargeBoxAdmin(AccountScopedAdmin):
    form = ChargeBoxForm
    list_display = (
        "charge_box_id",
        "description",
        "node",
        "registration_status",
        "is_connected",
        "last_heartbeat_at",
        "charge_point_vendor",
        "charge_point_model",
        "connector_count",
        "has_password",
    )
    list_select_related = ("node", "account")
    list_filter = ("registration_status", "is_connected", "ocpp_protocol", "phases", "charge_point_vendor")
    search_fields = (
        "charge_box_id",
        "description",
        "charge_point_serial_number",
        "charge_box_serial_number",
        "charge_point_vendor",
        "charge_point_model",
        "node__name",
    )
    autocomplete_fields = ("node",)
    inlines = (ConnectorInline,)
    readonly_fields = (*BOOT_NOTIFICATION_FIELDS, "who_may_charge_here")
    fieldsets = (
        (None, {"fields": ("account", "charge_box_id", "description", "registration_status", "node")}),
        ("Security", {"fields": ("new_auth_password", "clear_auth_password")}),
        ("Electrical (load management)", {"fields": ("max_current_a", "min_current_a", "phases", "phase_rotation")}),
        ("Proxy mode", {"fields": ("upstream_url",), "classes": ("collapse",)}),
        ("From the charger (BootNotification)", {"fields": BOOT_NOTIFICATION_FIELDS}),
        ("Who may charge here?", {"fields": ("who_may_charge_here",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(connectors_total=Count("connectors"))

    @admin.display(description="connectors", ordering="connectors_total")
    def connector_count(self, charge_box):
        return charge_box.connectors_total

    @admin.display(description="password", boolean=True)
    def has_password(self, charge_box):
        return charge_box.requires_auth_password

    @admin.display(description="tags allowed at this station (permission resolver)")
    def who_may_charge_here(self, charge_box):
        if not charge_box.pk:
            return "—"
        if charge_box.node_id is None:
            return "Nobody: this station is on no site node."
        tags = tags_allowed_at(charge_box=charge_box).order_by("id_tag")
        return _resolver_table(tags, _admin_link, "OCPP tag")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("clear_auth_password"):
            services.charge_box_update(charge_box=obj, data={"auth_password": None})
        elif form.cleaned_data.get("new_auth_password"):
            services.charge_box_update(charge_box=obj, data={"auth_password": form.cleaned_data["new_auth_password"]})

    def delete_model(self, request, obj):
        services.charge_box_delete(charge_box=obj)


class BlockedFilter(admin.SimpleListFilter):
    title = "blocked"
    parameter_name = "blocked"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(max_active_transaction_count=0)
        if self.value() == "no":
            return queryset.exclude(max_active_transaction_count=0)
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(ocpp_tags_expired_q(expired=self.value() == "yes"))
        return queryset


class InTransactionFilter(admin.SimpleListFilter):
    title = "in transaction"
    parameter_name = "in_transaction"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(active_transactions__gt=0)
        if self.value() == "no":
            return queryset.filter(active_transactions=0)
        return queryset


@admin.register(OcppTag)
class OcppTagAdmin(ImportExportMixin, AccountScopedAdmin):
    resource_classes = (OcppTagResource,)
    import_formats = (CSV,)
    export_formats = (CSV,)
    list_display = (
        "id_tag",
        "user",
        "parent",
        "expiry_date",
        "max_active_transaction_count",
        "is_blocked",
        "active_transaction_count",
        "note",
    )
    list_select_related = ("user", "parent", "account")
    list_filter = (BlockedFilter, ExpiredFilter, InTransactionFilter, "groups")
    search_fields = ("id_tag", "note", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("parent", "user")
    fields = (
        "account",
        "id_tag",
        "parent",
        "user",
        "expiry_date",
        "max_active_transaction_count",
        "note",
        "where_may_this_tag_charge",
    )
    readonly_fields = ("where_may_this_tag_charge",)
    actions = ("block", "unblock", "expire_now")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(active_transactions=active_transaction_count())

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**super().get_resource_kwargs(request, *args, **kwargs), "account": request.user.account}

    @admin.display(description="blocked", boolean=True, ordering="max_active_transaction_count")
    def is_blocked(self, tag):
        return tag.blocked

    @admin.display(description="active transactions", ordering="active_transactions")
    def active_transaction_count(self, tag):
        return tag.active_transactions

    @admin.display(description="stations this tag may use (permission resolver)")
    def where_may_this_tag_charge(self, tag):
        if not tag.pk:
            return "—"
        charge_boxes = charge_boxes_allowed_for(ocpp_tag=tag).order_by("charge_box_id")
        return _resolver_table(charge_boxes, _admin_link, "charge box")

    @admin.action(description="Block selected tags")
    def block(self, request, queryset):
        for tag in queryset:
            services.ocpp_tag_set_blocked(ocpp_tag=tag, blocked=True)
        self.message_user(request, f"Blocked {len(queryset)} tag(s).")

    @admin.action(description="Unblock selected tags (one session at a time)")
    def unblock(self, request, queryset):
        for tag in queryset:
            services.ocpp_tag_set_blocked(ocpp_tag=tag, blocked=False)
        self.message_user(request, f"Unblocked {len(queryset)} tag(s).")

    @admin.action(description="Expire selected tags now")
    def expire_now(self, request, queryset):
        now = timezone.now()
        for tag in queryset:
            services.ocpp_tag_expire(ocpp_tag=tag, at=now)
        self.message_user(request, f"Expired {len(queryset)} tag(s).", level=messages.SUCCESS)


class UserForm(forms.ModelForm):
    ocpp_tags = forms.ModelMultipleChoiceField(
        label="OCPP tags",
        queryset=OcppTag.objects.none(),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("OCPP tags", False),
        help_text="The tags this person holds. A tag has one holder: choosing it here takes it from another user.",
    )

    class Meta:
        model = User
        fields = ("account", "first_name", "last_name", "email", "phone", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["ocpp_tags"].initial = list(self.instance.ocpp_tags.values_list("pk", flat=True))


@admin.register(User)
class UserAdmin(AccountScopedAdmin):
    form = UserForm
    list_display = ("__str__", "first_name", "last_name", "email", "phone", "tag_count")
    list_display_links = ("__str__",)
    list_select_related = ("account",)
    search_fields = ("first_name", "last_name", "email", "phone", "note", "ocpp_tags__id_tag")
    list_filter = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tags_total=Count("ocpp_tags"))

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["ocpp_tags"].queryset = scope_to_account(OcppTag.objects.all(), request.user)
        return form

    @admin.display(description="OCPP tags", ordering="tags_total")
    def tag_count(self, user):
        return user.tags_total

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.user_set_ocpp_tags(user=form.instance, ocpp_tags=form.cleaned_data["ocpp_tags"])


class OcppTagGroupPermissionInline(PermissionInline):
    model = OcppTagGroupPermission
    autocomplete_fields = ("node",)
    verbose_name_plural = "permissions of this group"


@admin.register(OcppTagGroup)
class OcppTagGroupAdmin(AccountScopedAdmin):
    list_display = ("name", "tag_count", "permission_count", "created_at")
    list_select_related = ("account",)
    search_fields = ("name", "ocpp_tags__id_tag")
    list_filter = ("created_at",)
    filter_horizontal = ("ocpp_tags",)
    inlines = (OcppTagGroupPermissionInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                tags_total=Count("ocpp_tags", distinct=True), permissions_total=Count("permissions", distinct=True)
            )
        )

    @admin.display(description="OCPP tags", ordering="tags_total")
    def tag_count(self, group):
        return group.tags_total

    @admin.display(description="permissions", ordering="permissions_total")
    def permission_count(self, group):
        return group.permissions_total


@admin.register(Transaction)
class TransactionAdmin(AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = ("pk", "charge_box", "connector_id", "id_tag", "started_at", "stopped_at", "energy_kwh")
    list_select_related = ("charge_box",)
    list_filter = ("started_at", "stopped_at")
    search_fields = ("id_tag", "charge_box__charge_box_id")
    date_hierarchy = "started_at"
    readonly_fields = (
        "charge_box",
        "connector_id",
        "id_tag",
        "ocpp_tag",
        "started_at",
        "meter_start",
        "stopped_at",
        "meter_stop",
        "stop_reason",
    )

    def has_add_permission(self, request):
        return False  # transactions come from chargers

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="energy (kWh)")
    def energy_kwh(self, transaction):
        return None if transaction.energy_wh is None else round(transaction.energy_wh / 1000, 3)
