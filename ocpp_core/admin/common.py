"""Pieces the ocpp_core admin pages share."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from permissions.selectors import permission_via
from sites.models import Node

# The "who may charge here?" tables show this many rows; the full lists are one click away.
RESOLVER_TABLE_ROWS = 200


def admin_link(obj, text=None) -> str:
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def changelist_link(model, text: str, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, text)


def resolver_table(rows, label_of, label_heading: str) -> str:
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


class ReadOnlyAdminMixin:
    """Records that chargers or the central system write; operators read them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
