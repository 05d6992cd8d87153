from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from ocpp_core.admin.common import ReadOnlyAdminMixin, admin_link
from powerfill.accounts.scoping import AccountScopedAdmin, scope_to_account
from sites.models import Node

from .models import AllocationRun, PriorityChange, TimeOfUseWindow


@admin.register(PriorityChange)
class PriorityChangeAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Every change of a connector's user priority: set through the API or the admin, reset, or unplugged. Priorities
    are edited on the charge box's page."""

    account_lookup = "connector__charge_box__account"
    list_display = ("changed_at", "connector_link", "previous_priority", "priority", "source", "changed_by")
    list_select_related = ("connector__charge_box",)
    list_filter = ("source", "changed_at")
    search_fields = ("connector__charge_box__charge_box_id", "connector__evse_id", "changed_by")
    date_hierarchy = "changed_at"
    show_full_result_count = False

    @admin.display(description="connector", ordering="connector__charge_box__charge_box_id")
    def connector_link(self, change):
        return admin_link(change.connector.charge_box, str(change.connector))


class TimeOfUseWindowForm(forms.ModelForm):
    class Meta:
        model = TimeOfUseWindow
        fields = ("node", "name", "weekdays", "starts_at", "ends_at", "price_level", "peak_cap_kw")

    def clean_weekdays(self):
        weekdays = self.cleaned_data["weekdays"].replace(" ", "").replace(",", "")
        if not weekdays or any(day not in "1234567" for day in weekdays) or len(set(weekdays)) != len(weekdays):
            raise forms.ValidationError("ISO weekday digits, each at most once: 1 = Monday ... 7 = Sunday.")
        return "".join(sorted(weekdays))

    def clean_peak_cap_kw(self):
        cap = self.cleaned_data["peak_cap_kw"]
        if cap is not None and cap < 0:
            raise forms.ValidationError("A peak cap cannot be negative.")
        return cap


@admin.register(TimeOfUseWindow)
class TimeOfUseWindowAdmin(AccountScopedAdmin):
    """Recurring price windows of a site: in an expensive one vehicles get what their departures need; a peak cap
    limits the site's total power."""

    form = TimeOfUseWindowForm
    account_lookup = "node__account"
    list_display = ("__str__", "node", "weekdays", "starts_at", "ends_at", "price_level", "peak_cap_kw")
    list_select_related = ("node",)
    list_filter = ("price_level", ("node", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "node__name")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "node":
            # A window belongs to a site, i.e. a root node; the operator's own only.
            kwargs["queryset"] = scope_to_account(Node.objects.filter(parent=None), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AllocationRun)
class AllocationRunAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Every recompute of a site's allocation by load management; a node's page charts them."""

    account_lookup = "root__account"
    list_display = ("computed_at", "root", "reason", "duration_ms", "profiles_sent")
    list_select_related = ("root",)
    list_filter = ("computed_at", ("root", admin.RelatedOnlyFieldListFilter))
    search_fields = ("root__name", "reason")
    date_hierarchy = "computed_at"
    show_full_result_count = False
    fields = ("root", "computed_at", "reason", "duration_ms", "profiles_sent", "node_loads", "connectors")
    readonly_fields = fields

    @admin.display(description="nodes (A per phase)")
    def node_loads(self, run):
        # In tree order: PostgreSQL's jsonb does not keep the order the run wrote them in.
        nodes = Node.objects.filter(pk__in=[int(pk) for pk in run.nodes], account_id=run.root.account_id)
        names = dict(nodes.order_by("tree_id", "lft").values_list("pk", "name"))
        order = {pk: index for index, pk in enumerate(names)}
        return format_html(
            "<table><thead><tr><th>node</th><th>limit</th><th>allocated L1, L2, L3</th><th>measured L1, L2, L3</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        names.get(int(pk), f"node {pk} (deleted)"),
                        "none" if loads.get("limit") is None else loads["limit"],
                        ", ".join(str(amps) for amps in loads["allocated"]),
                        ", ".join(str(amps) for amps in loads["measured"]),
                    )
                    for pk, loads in sorted(run.nodes.items(), key=lambda item: order.get(int(item[0]), len(order)))
                ),
            ),
        )
