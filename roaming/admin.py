from functools import partial

from django.conf import settings
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.decorators import method_decorator

from ocpp_core.admin.common import ReadOnlyAdminMixin
from powerfill.accounts.scoping import AccountScopedAdmin

from .choices import RegistrationState
from .models import (
    Cdr,
    Location,
    ModuleSync,
    OcpiIdentity,
    OutboxMessage,
    PartnerLocation,
    PartnerObject,
    PartnerToken,
    Party,
    PartyRole,
    ReceivedCommand,
    SentChargingProfile,
    SentCommand,
    Tariff,
    TariffVersion,
)
from .protocol import OcpiError, public_base_url
from .services.credentials import party_register_with, party_reinvite
from .services.locations import location_save
from .services.pull import pulled_modules
from .services.resync import party_resync
from .services.tariffs import tariff_save
from .tasks import outbox_send_task, partner_module_pull_task

# A URL typed without a scheme means https (Django 6's default; 5.2 still assumes http and warns).
URL_FIELDS_ASSUME_HTTPS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(OcpiIdentity)
class OcpiIdentityAdmin(AccountScopedAdmin):
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ("name", "country_code", "party_id", "website")
    list_filter = ("country_code",)
    search_fields = ("name", "party_id")


class ModuleSyncInline(admin.TabularInline):
    model = ModuleSync
    extra = 0
    can_delete = False
    fields = readonly_fields = ("module", "last_pull_at", "last_pull_objects", "pulled_until", "last_error")
    verbose_name_plural = "pulls"

    def has_add_permission(self, request, obj=None):
        return False


class PartyRoleInline(admin.TabularInline):
    model = PartyRole
    extra = 0
    can_delete = False
    fields = readonly_fields = ("role", "country_code", "party_id", "business_details")

    def has_add_permission(self, request, obj=None):
        return False  # the partner's credentials say which roles it plays


@admin.register(Party)
class PartyAdmin(AccountScopedAdmin):
    """Roaming partners. To let a partner register with us, add it by name and hand over its token A with our
    versions URL; to register with a partner, add its versions URL and the token A it issued, then run "Register
    with the partner"."""

    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = (
        "name", "state", "version", "role_list", "registered_at", "last_push_at", "last_pull_at", "outbox_backlog",
        "outbox_failures", "last_error_short",
    )  # fmt: skip
    list_filter = ("state",)
    search_fields = ("name", "roles__party_id")
    inlines = [PartyRoleInline, ModuleSyncInline]
    actions = ["register_with_partner", "pull_now", "resync", "issue_new_token_a"]
    readonly_fields = (
        "state",
        "our_versions_url",
        "incoming_token",
        "version",
        "endpoints",
        "registered_at",
        "last_error",
        "token_group",
    )
    fieldsets = (
        (None, {"fields": ("account", "name", "state", "registered_at", "last_error")}),
        ("Tokens of the partner (as eMSP)", {"fields": ("token_group",)}),
        (
            "We register with the partner",
            {"fields": ("versions_url", "outgoing_token", "plain_token_header", "ocpi211_role")},
        ),
        ("The partner registers with us", {"fields": ("our_versions_url", "incoming_token")}),
        ("Connection", {"fields": ("version", "endpoints")}),
    )

    @method_decorator(transaction.non_atomic_requests)
    def changelist_view(self, request, extra_context=None):
        """The actions call partners ("Register with the partner": the partner calls us back meanwhile), which no
        transaction may be open for: each service commits its own writes."""
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        unsent = Count("outbox", filter=Q(outbox__sent_at=None, outbox__gave_up_at=None), distinct=True)
        failing = Count("outbox", filter=Q(outbox__sent_at=None, outbox__attempts__gt=0), distinct=True)
        pushed, pulled = Max("outbox__sent_at"), Max("syncs__last_pull_at")
        queryset = super().get_queryset(request).prefetch_related("roles")
        return queryset.annotate(backlog=unsent, failures=failing, pushed_at=pushed, pulled_at=pulled)

    @admin.display(description="outbox backlog", ordering="backlog")
    def outbox_backlog(self, obj):
        return obj.backlog

    @admin.display(description="failed pushes", ordering="failures")
    def outbox_failures(self, obj):
        """Unsent messages that failed at least once (waiting for a retry, or given up)."""
        return obj.failures

    @admin.display(description="last push", ordering="pushed_at")
    def last_push_at(self, obj):
        return obj.pushed_at

    @admin.display(description="last pull", ordering="pulled_at")
    def last_pull_at(self, obj):
        return obj.pulled_at

    @admin.display(description="our versions URL")
    def our_versions_url(self, obj):
        if settings.OCPI_PUBLIC_URL:
            return f"{settings.OCPI_PUBLIC_URL}/ocpi/versions"
        return "/ocpi/versions at this server's public address (set OCPI_PUBLIC_URL to show it here)"

    @admin.display(description="roles")
    def role_list(self, obj):
        return ", ".join(str(role) for role in obj.roles.all())

    @admin.display(description="last error")
    def last_error_short(self, obj):
        return obj.last_error[:80]

    @admin.action(description="Register with the partner (its versions URL and token A)")
    def register_with_partner(self, request, queryset):
        for party in queryset:
            try:
                party_register_with(party=party, base_url=public_base_url(request))
            except OcpiError as error:
                self.message_user(request, f"{party}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{party}: registered (OCPI {party.version}).", messages.SUCCESS)

    @admin.action(description="Pull from the partner now (what changed since the last pull, every module it sends)")
    def pull_now(self, request, queryset):
        for party in queryset:
            modules = pulled_modules(party)
            if not modules:
                self.message_user(request, f"{party}: lists nothing to pull.", messages.WARNING)
                continue
            for module in modules:
                partner_module_pull_task.delay(party.pk, module)
            self.message_user(request, f"{party}: pull of {', '.join(modules)} started; results show under Pulls.")

    @admin.action(description="Re-sync: pull everything again and send it everything we own that it receives")
    def resync(self, request, queryset):
        for party in queryset.filter(state=RegistrationState.REGISTERED):
            queued = party_resync(party=party)
            for module in pulled_modules(party):
                partner_module_pull_task.delay(party.pk, module)
            self.message_user(request, f"{party}: {queued} object(s) queued, full pulls started.")

    @admin.action(description="Issue a new token A (the partner registers again)")
    def issue_new_token_a(self, request, queryset):
        for party in queryset:
            party_reinvite(party=party)
        self.message_user(request, f"New token A for {queryset.count()} partner(s); hand it over again.")


@admin.register(Location)
class LocationAdmin(AccountScopedAdmin):
    """Charging locations published over OCPI: a site node with an address; the charge boxes in its subtree are its
    EVSEs."""

    account_lookup = "identity__account"
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ("ocpi_id", "name", "identity", "city", "country", "publish", "updated_at")
    list_filter = ("publish", "country")
    list_select_related = ("identity",)
    search_fields = ("ocpi_id", "name", "city")
    autocomplete_fields = ("node",)

    def save_model(self, request, obj, form, change):
        location_save(location=obj)  # and queued for the partner eMSPs


@admin.register(PartnerLocation)
class PartnerLocationAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Partner CPOs' locations as we hold them as eMSP (pushed to us or pulled)."""

    account_lookup = "partner__account"
    list_display = ("__str__", "partner", "last_updated", "received_at")
    list_filter = (("partner", admin.RelatedOnlyFieldListFilter), "country_code")
    list_select_related = ("partner",)
    search_fields = ("ocpi_id", "party_id")
    readonly_fields = ("partner", "country_code", "party_id", "ocpi_id", "data", "last_updated", "received_at")


class TariffVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TariffVersion
    extra = 0
    fields = readonly_fields = ("valid_from", "data")
    verbose_name_plural = "versions (sessions are priced by the one in force when they started)"


@admin.register(Tariff)
class TariffAdmin(AccountScopedAdmin):
    """Tariffs we publish over OCPI; a location names the one its connectors charge by. Saving records a version
    and sends it to partner eMSPs; past sessions keep the version they started under."""

    account_lookup = "identity__account"
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ("ocpi_id", "identity", "currency", "type", "updated_at")
    list_filter = ("currency",)
    list_select_related = ("identity",)
    search_fields = ("ocpi_id",)
    inlines = [TariffVersionInline]

    def save_model(self, request, obj, form, change):
        tariff_save(tariff=obj)


@admin.register(Cdr)
class CdrAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Charge detail records we issued to partner eMSPs for their customers' sessions (never changed)."""

    account_lookup = "partner__account"
    list_display = ("ocpi_id", "partner", "transaction", "created_at")
    list_filter = (("partner", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("partner", "transaction")
    search_fields = ("ocpi_id",)
    readonly_fields = ("ocpi_id", "partner", "transaction", "data", "created_at")


@admin.register(PartnerObject)
class PartnerObjectAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Partner CPOs' sessions, CDRs and tariffs as we hold them as eMSP (pushed to us or pulled)."""

    account_lookup = "partner__account"
    list_display = ("__str__", "module", "partner", "last_updated", "received_at")
    list_filter = ("module", ("partner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("partner",)
    search_fields = ("ocpi_id",)
    readonly_fields = (
        "partner", "module", "country_code", "party_id", "ocpi_id", "data", "last_updated", "received_at",
    )  # fmt: skip


@admin.register(ReceivedCommand)
class ReceivedCommandAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Commands partner eMSPs sent to our chargers: what we answered at once, and the result the charger gave."""

    account_lookup = "partner__account"
    list_display = ("command", "partner", "created_at", "response", "result", "message", "finished_at")
    search_fields = ("command", "partner__name", "message")
    list_filter = ("command", "response", "result", ("partner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("partner",)
    readonly_fields = (
        "partner", "command", "data", "response", "result", "message", "operation_task", "reservation", "created_at",
        "started_at", "finished_at",
    )  # fmt: skip


@admin.register(SentCommand)
class SentCommandAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Commands we sent partner CPOs as eMSP, with their answer and the result they posted back."""

    account_lookup = "partner__account"
    list_display = ("command", "partner", "created_at", "response", "result", "result_at")
    search_fields = ("command", "partner__name")
    list_filter = ("command", ("partner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("partner",)
    readonly_fields = ("partner", "command", "data", "response", "result", "created_at", "result_at")


@admin.register(SentChargingProfile)
class SentChargingProfileAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Charging profile requests we sent partner CPOs as eMSP, with their answer and the result posted back."""

    account_lookup = "partner__account"
    list_display = ("action", "session_id", "partner", "created_at", "response", "result", "result_at")
    list_filter = ("action", ("partner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("partner",)
    search_fields = ("session_id", "partner__name")
    readonly_fields = ("partner", "session_id", "action", "data", "response", "result", "created_at", "result_at")


@admin.register(PartnerToken)
class PartnerTokenAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Partner eMSPs' tokens as we hold them as CPO. Each is an OCPP tag of the partner's tag group: grant that group
    permissions on the nodes where the partner's customers may charge."""

    account_lookup = "partner__account"
    list_display = ("__str__", "partner", "contract_id", "valid", "whitelist", "ocpp_tag", "problem", "last_updated")
    list_filter = (("partner", admin.RelatedOnlyFieldListFilter), "valid", "whitelist", "type")
    list_select_related = ("partner", "ocpp_tag")
    search_fields = ("uid", "contract_id")
    readonly_fields = (
        "partner", "country_code", "party_id", "uid", "type", "contract_id", "valid", "whitelist", "ocpp_tag",
        "problem", "data", "last_updated", "received_at",
    )  # fmt: skip


class OutboxStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"
    CONDITIONS = {
        "sent": Q(sent_at__isnull=False),
        "waiting": Q(sent_at=None, gave_up_at=None),
        "given_up": Q(sent_at=None, gave_up_at__isnull=False, cancelled_at=None),
        "cancelled": Q(cancelled_at__isnull=False),
    }

    def lookups(self, request, model_admin):
        return [("sent", "sent"), ("waiting", "waiting"), ("given_up", "given up"), ("cancelled", "cancelled")]

    def queryset(self, request, queryset):
        condition = self.CONDITIONS.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """What we push to partners: sent, waiting (for a retry, or for an older change of the same object), given
    up (the partner's pull catches up) or cancelled (the partner's credentials ended first)."""

    account_lookup = "partner__account"
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ("key", "method", "partner", "status", "created_at", "attempts", "sent_at", "last_error")
    list_filter = (OutboxStatusFilter, ("partner", admin.RelatedOnlyFieldListFilter), "method")
    list_select_related = ("partner",)
    search_fields = ("key",)
    actions = ["retry_now"]

    @admin.display(description="status")
    def status(self, obj):
        if obj.sent_at:
            return "sent"
        if obj.cancelled_at:
            return "cancelled"
        if obj.gave_up_at:
            return "given up"
        return "retrying" if obj.attempts else "waiting"

    @admin.action(description="Retry now (given up ones too, to registered partners)")
    def retry_now(self, request, queryset):
        again = queryset.filter(sent_at=None, partner__state=RegistrationState.REGISTERED)
        message_pks = list(again.values_list("pk", flat=True))
        count = OutboxMessage.objects.filter(pk__in=message_pks).update(
            next_attempt_at=timezone.now(), gave_up_at=None, cancelled_at=None, attempts=0
        )
        for message_pk in message_pks:
            transaction.on_commit(partial(outbox_send_task.delay, message_pk))  # sends go out once this commits
        self.message_user(request, f"{count} message(s) queued again.")
