from datetime import timedelta

from django import forms, http
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from mptt.admin import DraggableMPTTAdmin
from mptt.forms import MPTTAdminForm

from ocpp_core.charts import Series, shared_axis_chart_svg
from ocpp_core.models import ChargeBox
from permissions.admin import PermissionInline
from permissions.models import OcppTagGroupPermission, OcppTagPermission
from powerfill.accounts.scoping import AccountScopedAdmin, scope_to_account

from . import services
from .models import Node

LOAD_PERIOD = timedelta(hours=24)
PHASES = ("L1", "L2", "L3")
PHASE_COLORS = ("#2a6ebb", "#d9822b", "#3a9a4a")
LIMIT_COLOR = "#c0392b"


class NodeForm(MPTTAdminForm):
    charge_boxes = forms.ModelMultipleChoiceField(
        queryset=ChargeBox.objects.none(),
        required=False,
        widget=FilteredSelectMultiple("charge boxes", False),
        help_text="The stations of this node. A station belongs to one node: choosing it here moves it.",
    )

    class Meta:
        model = Node
        fields = ("account", "name", "parent", "max_current_a", "phases", "max_power_kw", "phase_asymmetry_limit_a")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["charge_boxes"].initial = list(self.instance.charge_boxes.values_list("pk", flat=True))

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account")
        foreign = [str(box) for box in cleaned.get("charge_boxes") or [] if account and box.account_id != account.pk]
        if foreign:
            self.add_error("charge_boxes", f"These charge boxes belong to another account: {', '.join(foreign)}.")
        return cleaned


class OcppTagPermissionInline(PermissionInline):
    model = OcppTagPermission
    autocomplete_fields = ("ocpp_tag",)
    verbose_name_plural = "OCPP tag permissions on this node"


class OcppTagGroupPermissionInline(PermissionInline):
    model = OcppTagGroupPermission
    autocomplete_fields = ("ocpp_tag_group",)
    verbose_name_plural = "OCPP tag group permissions on this node"


@admin.register(Node)
class NodeAdmin(AccountScopedAdmin, DraggableMPTTAdmin):
    """The site trees: drag a node to move it with its subtree; open one to edit its stations and permissions."""

    form = NodeForm
    list_display = (
        "tree_actions",
        "indented_title",
        "station_count",
        "tag_permission_count",
        "group_permission_count",
        "max_current_a",
        "phases",
    )
    list_display_links = ("indented_title",)
    list_select_related = ("account",)
    search_fields = ("name",)
    list_filter = ("level", "phases")
    inlines = (OcppTagPermissionInline, OcppTagGroupPermissionInline)
    fieldsets = (
        (None, {"fields": ("account", "name", "parent", "charge_boxes")}),
        (
            "Electrical limits (load management)",
            {
                "fields": ("max_current_a", "phases", "max_power_kw", "phase_asymmetry_limit_a"),
            },
        ),
    )
    readonly_fields = ("load",)
    expand_tree_by_default = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                stations=Count("charge_boxes", distinct=True),
                tag_permissions=Count("ocpptagpermissions", distinct=True),
                group_permissions=Count("ocpptaggrouppermissions", distinct=True),
            )
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (*fieldsets, ("Load (last 24 hours)", {"fields": ("load",)}))

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["charge_boxes"].queryset = scope_to_account(
            ChargeBox.objects.select_related("node"), request.user
        )
        return form

    @admin.display(description="stations", ordering="stations")
    def station_count(self, node):
        return node.stations

    @admin.display(description="tag permissions", ordering="tag_permissions")
    def tag_permission_count(self, node):
        return node.tag_permissions

    @admin.display(description="group permissions", ordering="group_permissions")
    def group_permission_count(self, node):
        return node.group_permissions

    @admin.display(description="limit, allocated and measured current")
    def load(self, node):
        from priority.selectors import node_load_history  # priority depends on sites: imported when used

        history = node_load_history(node=node, since=timezone.now() - LOAD_PERIOD)
        if not history:
            return (
                "No recompute of this site in the last 24 hours: load management runs on sites with a limit and "
                "charge boxes."
            )
        series = [
            Series("limit", "A", LIMIT_COLOR, [(h.computed_at, h.limit) for h in history if h.limit is not None], "6 3")
        ]
        for index, (phase, color) in enumerate(zip(PHASES, PHASE_COLORS, strict=True)):
            allocated = [(h.computed_at, h.allocated[index]) for h in history]
            measured = [(h.computed_at, h.measured[index]) for h in history]
            series += [
                Series(f"{phase} allocated", "A", color, allocated),
                Series(f"{phase} measured", "A", color, measured, "2 2"),
            ]
        chart = shared_axis_chart_svg(series=series, label=f"load of {node.name}", unit="A per phase")
        latest = history[-1]
        limit = "none" if latest.limit is None else latest.limit
        table = format_html(
            '<table><caption>Latest recompute: <a href="{}">{}</a> ({})</caption>'
            "<thead><tr><th>phase</th><th>limit (A)</th><th>allocated (A)</th><th>measured (A)</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            reverse("admin:priority_allocationrun_change", args=[latest.run_id]),
            f"{latest.computed_at:%Y-%m-%d %H:%M:%S} UTC",  # as on the chart
            latest.reason,
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((phase, limit, latest.allocated[i], latest.measured[i]) for i, phase in enumerate(PHASES)),
            ),
        )
        # The chart is built from numbers and escaped labels (ocpp_core/charts.py).
        return format_html("{}{}", mark_safe(chart), table)  # noqa: S308

    @admin.display(description="node")
    def indented_title(self, item):
        indent = item.level * self.mptt_level_indent
        return format_html('<div style="padding-left:{}px; white-space:nowrap">{}</div>', indent, item.name)

    def save_model(self, request, obj, form, change):
        services.node_save(node=obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.site_assign_charge_boxes(
            node=form.instance, charge_box_ids=[box.charge_box_id for box in form.cleaned_data["charge_boxes"]]
        )

    def delete_model(self, request, obj):
        services.site_delete(node=obj)

    def delete_queryset(self, request, queryset):
        # Deepest first would re-delete removed subtrees; deleting roots of the selection is enough.
        for node in queryset.order_by("level"):
            if Node.objects.filter(pk=node.pk).exists():
                services.site_delete(node=node)

    def get_actions(self, request):
        # Django's own bulk delete, which calls delete_queryset above, not mptt's replacement that bypasses it.
        return admin.ModelAdmin.get_actions(self, request)

    def _move_node(self, request):
        """Drag and drop goes through the same service as the API: lock, account, cycle, depth and name checks."""
        queryset = self.get_queryset(request)
        try:
            node = queryset.get(pk=request.POST.get("cut_item"))
            target = queryset.get(pk=request.POST.get("pasted_on"))
        except (Node.DoesNotExist, TypeError, ValueError):
            self.message_user(request, "Those nodes have disappeared; reload and try again.", level=messages.ERROR)
            return http.HttpResponse("FAIL, invalid objects.")
        if not self.has_change_permission(request, node):
            self.message_user(request, "You may not move this node.", level=messages.ERROR)
            return http.HttpResponse("FAIL, no permission.")
        try:
            services.site_move(node=node, target=target, position=request.POST.get("position", ""))
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), level=messages.ERROR)
            return http.HttpResponse("FAIL, invalid move.")
        self.log_change(request, node, [{"changed": {"fields": ["parent"]}}])
        self.message_user(request, f"{node} has been moved.")
        return http.HttpResponse("OK, moved.")
