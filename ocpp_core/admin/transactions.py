from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from powerfill.accounts.scoping import AccountScopedAdmin

from ..charts import Series, line_chart_svg
from ..models import ENERGY_REGISTER, ChargingProfile, MeterValue, Reservation, Transaction
from ..selectors import with_latest_meter
from ..services import registry as services
from .common import ReadOnlyAdminMixin

# The readings table under the chart; the chart itself uses every reading.
READINGS_SHOWN = 100


class RunningFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("running", "running"), ("stopped", "stopped"))

    def queryset(self, request, queryset):
        if self.value() == "running":
            return queryset.filter(stopped_at__isnull=True)
        if self.value() == "stopped":
            return queryset.filter(stopped_at__isnull=False)
        return queryset


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = (
        "pk",
        "charge_box",
        "connector_id",
        "id_tag",
        "start_status",
        "started_at",
        "stopped_at",
        "energy_kwh",
        "stop_reason",
    )
    list_select_related = ("charge_box",)
    # Related-only: the choices come from this admin's queryset, so an operator is offered only their own stations.
    list_filter = (
        RunningFilter,
        "start_status",
        "stop_event_actor",
        "started_at",
        ("charge_box", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("id_tag", "charge_box__charge_box_id", "=pk")
    date_hierarchy = "started_at"
    actions = ("stop_manually",)
    fields = (
        "charge_box",
        "connector_id",
        "id_tag",
        "ocpp_tag",
        "start_status",
        "reservation",
        "started_at",
        "meter_start",
        "stopped_at",
        "meter_stop",
        "stop_reason",
        "stop_id_tag",
        "stop_event_actor",
        "energy_kwh",
        "meter_chart",
        "readings",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return with_latest_meter(super().get_queryset(request))

    @admin.display(description="energy (kWh)")
    def energy_kwh(self, transaction):
        return None if transaction.energy_wh is None else round(transaction.energy_wh / 1000, 3)

    @admin.display(description="meter values")
    def meter_chart(self, transaction):
        values = list(transaction.meter_values.filter(numeric_value__isnull=False, phase="").order_by("timestamp"))
        scale = {"": 1e-3, "Wh": 1e-3, "kWh": 1, "W": 1e-3, "kW": 1}
        energy = [
            (v.timestamp, v.numeric_value * scale[v.unit])
            for v in values
            if v.measurand in ("", ENERGY_REGISTER) and v.unit in scale
        ]
        if not energy:
            energy = [(transaction.started_at, transaction.meter_start / 1000)]
            if transaction.stopped_at and transaction.meter_stop is not None:
                energy.append((transaction.stopped_at, transaction.meter_stop / 1000))
        power = [
            (v.timestamp, v.numeric_value * scale[v.unit])
            for v in values
            if v.measurand == "Power.Active.Import" and v.unit in scale
        ]
        return mark_safe(  # noqa: S308 (built from numbers and escaped labels in charts.py)
            line_chart_svg(
                energy=Series("energy register", "kWh", "#2a6ebb", energy),
                power=Series("power", "kW", "#d9822b", power) if power else None,
            )
        )

    @admin.display(description=f"readings (latest {READINGS_SHOWN})")
    def readings(self, transaction):
        rows = MeterValue.objects.filter(transaction=transaction).order_by("-timestamp", "-pk")[:READINGS_SHOWN]
        return format_html(
            "<table><tr><th>time</th><th>measurand</th><th>phase</th><th>value</th><th>unit</th><th>context</th>"
            "<th>format</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        r.timestamp,
                        r.measurand or ENERGY_REGISTER,
                        r.phase,
                        r.value[:80],
                        r.unit or "Wh",
                        r.context,
                        r.format or "Raw",
                    )
                    for r in rows
                ),
            ),
        )

    @admin.action(description="Mark stopped now (the charger is not contacted)")
    def stop_manually(self, request, queryset):
        stopped = 0
        for transaction in queryset.filter(stopped_at__isnull=True):
            try:
                services.transaction_stop_manually(transaction=transaction)
                stopped += 1
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), level=messages.ERROR)
        self.message_user(request, f"Stopped {stopped} transaction(s).")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = ("pk", "charge_box", "connector_id", "ocpp_tag", "expiry", "status", "created_at")
    list_select_related = ("charge_box", "ocpp_tag")
    list_filter = ("status", "expiry")
    search_fields = ("charge_box__charge_box_id", "ocpp_tag__id_tag", "=pk")


@admin.register(ChargingProfile)
class ChargingProfileAdmin(AccountScopedAdmin):
    list_display = ("pk", "__str__", "purpose", "kind", "stack_level", "charging_rate_unit", "valid_from", "valid_to")
    list_display_links = ("pk", "__str__")
    list_filter = ("purpose", "kind", "charging_rate_unit")
    search_fields = ("description",)
    list_select_related = ("account",)
