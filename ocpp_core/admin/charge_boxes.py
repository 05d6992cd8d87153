from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from permissions.selectors import tags_allowed_at
from powerfill.accounts.models import Account
from powerfill.accounts.scoping import AccountScopedAdmin
from priority.choices import PriorityChangeSource
from priority.models import PriorityChange
from priority.services.priorities import connector_priority_set

from ..models import (
    ChargeBox,
    ChargerEvent,
    Connector,
    ConnectorStatus,
    InstalledCertificate,
    LocalAuthListEntry,
    OcppMessage,
    Transaction,
    UnknownChargeBox,
)
from ..services import registry as services
from ..services.charger_messages import BOOT_FIELDS
from ..services.connections import unknown_charger_adopt
from ..services.socket_events import registration_status_announce
from ..validators import charger_password_validator
from .common import ReadOnlyAdminMixin, admin_link, changelist_link, resolver_table
from .operations import operations_view


class ConnectorInlineForm(forms.ModelForm):
    class Meta:
        model = Connector
        fields = ("connector_id", "evse_id", "priority")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("connector_id") == 0 and cleaned.get("priority"):
            self.add_error("priority", "Connector 0 stands for the whole station; it has no priority.")
        return cleaned


class ConnectorInline(admin.TabularInline):
    """Each connector's status, its user priority (saved through connector_priority_set, which keeps the history:
    see ChargeBoxAdmin.save_formset) and what load management last allocated and applied."""

    model = Connector
    form = ConnectorInlineForm
    fields = (
        "connector_id",
        "status",
        "error_code",
        "info",
        "status_updated_at",
        "evse_id",
        "priority",
        "priority_history",
        "allocated",
        "applied",
        "apply_status",
    )
    readonly_fields = (
        "status",
        "error_code",
        "info",
        "status_updated_at",
        "priority_history",
        "allocated",
        "applied",
        "apply_status",
    )
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("load")

    @admin.display(description="priority history")
    def priority_history(self, connector):
        if not connector.pk:
            return "—"
        return changelist_link(PriorityChange, "history", connector__id__exact=connector.pk)

    @admin.display(description="allocated")
    def allocated(self, connector):
        load = getattr(connector, "load", None)
        return "—" if load is None or load.allocated_amps is None else f"{load.allocated_amps:g} A"

    @admin.display(description="applied")
    def applied(self, connector):
        load = getattr(connector, "load", None)
        return "—" if load is None or load.applied_amps is None else f"{load.applied_amps:g} A"

    @admin.display(description="apply status")
    def apply_status(self, connector):
        load = getattr(connector, "load", None)
        return load.get_apply_status_display() if load is not None and load.apply_status else "—"


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
            "heartbeat_interval",
            "node",
            "require_client_certificate",
            "upstream_url",
            "max_current_a",
            "min_current_a",
            "phases",
            "phase_rotation",
        )


# What the charger reports about itself (BootNotification) and how it is connected, shown read-only.
BOOT_NOTIFICATION_FIELDS = ("ocpp_protocol", *BOOT_FIELDS, "last_boot_at")
CONNECTION_FIELDS = (
    "is_connected",
    "connected_at",
    "disconnected_at",
    "last_heartbeat_at",
    "firmware_status",
    "diagnostics_status",
    "local_list_version",
    "configuration_table",
    "records",
)


@admin.register(ChargeBox)
class ChargeBoxAdmin(AccountScopedAdmin):
    """Live status: connected, last heartbeat, each connector's status; and the way to send OCPP operations."""

    form = ChargeBoxForm
    list_display = (
        "charge_box_id",
        "description",
        "node",
        "registration_status",
        "is_connected",
        "last_heartbeat_at",
        "connector_statuses",
        "running_transactions",
        "charge_point_vendor",
        "charge_point_model",
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
    readonly_fields = (*BOOT_NOTIFICATION_FIELDS, *CONNECTION_FIELDS, "who_may_charge_here")
    actions = ("send_operation",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "account",
                    "charge_box_id",
                    "description",
                    "registration_status",
                    "heartbeat_interval",
                    "node",
                )
            },
        ),
        ("Security", {"fields": ("new_auth_password", "clear_auth_password", "require_client_certificate")}),
        ("Electrical (load management)", {"fields": ("max_current_a", "min_current_a", "phases", "phase_rotation")}),
        ("Proxy mode", {"fields": ("upstream_url",), "classes": ("collapse",)}),
        ("Connection", {"fields": CONNECTION_FIELDS}),
        ("From the charger (BootNotification)", {"fields": BOOT_NOTIFICATION_FIELDS}),
        ("Who may charge here?", {"fields": ("who_may_charge_here",)}),
    )

    def get_queryset(self, request):
        running = Count("transactions", filter=Q(transactions__stopped_at__isnull=True))
        return super().get_queryset(request).prefetch_related("connectors").annotate(running=running)

    def get_urls(self):
        operations = self.admin_site.admin_view(lambda request: operations_view(self, request))
        live = self.admin_site.admin_view(lambda request: self.changelist_view(request, {"live": True}))
        return [
            path("operations/", operations, name="ocpp_core_chargebox_operations"),
            path("live/", live, name="ocpp_core_chargebox_live"),
            *super().get_urls(),
        ]

    @admin.action(description="Send an OCPP operation to the selected charge boxes")
    def send_operation(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:ocpp_core_chargebox_operations')}?ids={ids}")

    @admin.display(description="connectors")
    def connector_statuses(self, charge_box):
        connectors = [c for c in charge_box.connectors.all() if c.connector_id > 0 or c.status]
        return format_html_join(", ", "{}: {}", ((c.connector_id, c.status or "?") for c in connectors)) or "—"

    @admin.display(description="running", ordering="running")
    def running_transactions(self, charge_box):
        return charge_box.running

    @admin.display(description="password", boolean=True)
    def has_password(self, charge_box):
        return charge_box.requires_auth_password

    @admin.display(description="configuration (last GetConfiguration)")
    def configuration_table(self, charge_box):
        if not charge_box.configuration:
            return "— (send GetConfiguration to read it)"
        rows = sorted(charge_box.configuration.items())
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", ((k, (v or {}).get("value")) for k, v in rows)),
        )

    @admin.display(description="records")
    def records(self, charge_box):
        if not charge_box.pk:
            return "—"
        links = [
            changelist_link(Transaction, "transactions", charge_box__id__exact=charge_box.pk),
            changelist_link(OcppMessage, "message log", charge_box__id__exact=charge_box.pk),
            changelist_link(ConnectorStatus, "status history", charge_box__id__exact=charge_box.pk),
            changelist_link(ChargerEvent, "events", charge_box__id__exact=charge_box.pk),
            changelist_link(LocalAuthListEntry, "local list", charge_box__id__exact=charge_box.pk),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="tags allowed at this station (permission resolver)")
    def who_may_charge_here(self, charge_box):
        if not charge_box.pk:
            return "—"
        if charge_box.node_id is None:
            return "Nobody: this station is on no site node."
        tags = tags_allowed_at(charge_box=charge_box).order_by("id_tag")
        return resolver_table(tags, admin_link, "OCPP tag")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "registration_status" in form.changed_data:
            registration_status_announce(charge_box=obj)
        if form.cleaned_data.get("clear_auth_password"):
            services.charge_box_update(charge_box=obj, data={"auth_password": None})
        elif form.cleaned_data.get("new_auth_password"):
            services.charge_box_update(charge_box=obj, data={"auth_password": form.cleaned_data["new_auth_password"]})

    def save_formset(self, request, form, formset, change):
        if formset.model is not Connector:
            return super().save_formset(request, form, formset, change)
        # A priority changes through its service, which records the change: the rows are saved with their stored
        # priority, then the service sets the new one.
        priorities = {}
        for connector_form in formset.forms:
            if "priority" in connector_form.changed_data and connector_form not in formset.deleted_forms:
                priorities[connector_form] = connector_form.cleaned_data["priority"]
                connector_form.instance.priority = connector_form.initial.get("priority", 0)
        super().save_formset(request, form, formset, change)
        for connector_form, priority in priorities.items():
            connector_priority_set(
                connector=connector_form.instance,
                priority=priority,
                source=PriorityChangeSource.ADMIN,
                changed_by=request.user.get_username(),
            )

    def delete_model(self, request, obj):
        services.charge_box_delete(charge_box=obj)

    def delete_queryset(self, request, queryset):
        # Through the service, one by one: its checks (kept history) and the closing of connected sockets apply.
        with transaction.atomic():
            for charge_box in queryset:
                services.charge_box_delete(charge_box=charge_box)


class AdoptActionForm(admin.helpers.ActionForm):
    account = forms.ModelChoiceField(
        Account.objects.all(), required=False, help_text="Superusers: the account that adopts the charger."
    )


@admin.register(UnknownChargeBox)
class UnknownChargeBoxAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Chargers that dialled in with an unregistered identity. Adopting one registers it, in one click.

    They belong to no account yet (the WebSocket URL names none), so every operator sees them; a staff operator
    adopts into their own account only, and only a superuser chooses the adopting account.
    """

    list_display = (
        "charge_box_id",
        "first_seen_at",
        "last_seen_at",
        "attempts",
        "remote_address",
        "subprotocols",
        "sent_credentials",
    )
    list_filter = ("sent_credentials", "last_seen_at")
    search_fields = ("charge_box_id", "remote_address", "user_agent")
    actions = ("adopt",)
    action_form = AdoptActionForm

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        action_form = getattr(response, "context_data", {}).get("action_form")
        if action_form is not None and not request.user.is_superuser:
            del action_form.fields["account"]  # the choices would name every other account
        return response

    def has_adopt_permission(self, request):
        return request.user.has_perm("ocpp_core.add_chargebox")

    def _adopting_account(self, request):
        if not request.user.is_superuser:
            return request.user.account  # whatever was posted
        # Django has validated the action form, this field included, before it runs the action.
        return AdoptActionForm.base_fields["account"].clean(request.POST.get("account")) or request.user.account

    @admin.action(description="Adopt: register the selected chargers", permissions=("adopt",))
    def adopt(self, request, queryset):
        account = self._adopting_account(request)
        if account is None:
            if request.user.is_superuser:
                self.message_user(request, "Choose the account that adopts them.", level=messages.ERROR)
            else:
                self.message_user(request, "Your login belongs to no account.", level=messages.ERROR)
            return
        adopted, refused = [], []
        for unknown in queryset:
            try:
                adopted.append(unknown_charger_adopt(unknown=unknown, account=account))
            except Exception as error:  # e.g. an identity that is no valid charge box id
                refused.append(f"{unknown.charge_box_id}: {' '.join(getattr(error, 'messages', [str(error)]))}")
        if adopted:
            self.message_user(request, f"Adopted into {account}: {', '.join(str(box) for box in adopted)}.")
        if refused:
            self.message_user(request, "Not adopted: " + "; ".join(refused), level=messages.ERROR)


@admin.register(ConnectorStatus)
class ConnectorStatusAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = ("received_at", "charge_box", "connector_id", "status", "error_code", "info", "timestamp")
    list_select_related = ("charge_box",)
    list_filter = ("status", "error_code", "received_at")
    search_fields = ("charge_box__charge_box_id", "info", "vendor_error_code")
    date_hierarchy = "received_at"
    show_full_result_count = False


@admin.register(LocalAuthListEntry)
class LocalAuthListEntryAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = ("charge_box", "id_tag", "status", "expiry_date", "parent_id_tag")
    list_select_related = ("charge_box",)
    list_filter = ("status",)
    search_fields = ("charge_box__charge_box_id", "id_tag")


@admin.register(InstalledCertificate)
class InstalledCertificateAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = ("pk", "charge_box", "certificate_type", "serial_number", "hash_algorithm", "reported_at")
    list_select_related = ("charge_box",)
    list_filter = ("certificate_type", "hash_algorithm")
    search_fields = ("charge_box__charge_box_id", "serial_number")
