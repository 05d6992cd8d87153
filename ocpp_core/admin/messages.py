import json

from django.contrib import admin
from django.utils.html import format_html

from powerfill.accounts.scoping import AccountScopedAdmin

from ..models import ChargerEvent, OcppMessage, OperationTask
from .common import ReadOnlyAdminMixin


@admin.register(OcppMessage)
class OcppMessageAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """Every frame in and out, per charger (kept OCPP_MESSAGE_LOG_RETENTION_DAYS days)."""

    account_lookup = "charge_box__account"
    list_display = ("created_at", "charge_box", "direction", "message_type", "action", "unique_id", "frame")
    list_select_related = ("charge_box",)
    list_filter = ("direction", "message_type", "action", "created_at")
    search_fields = ("=charge_box__charge_box_id", "=unique_id")
    date_hierarchy = "created_at"
    show_full_result_count = False  # the log is large; counting it all on every page would be slow
    fields = ("created_at", "charge_box", "direction", "message_type", "unique_id", "action", "pretty_payload")
    readonly_fields = fields

    @admin.display(description="frame")
    def frame(self, message):
        return message.payload[:160] + ("…" if len(message.payload) > 160 else "")

    @admin.display(description="frame")
    def pretty_payload(self, message):
        try:
            text = json.dumps(json.loads(message.payload), indent=2)
        except ValueError:
            text = message.payload
        return format_html("<pre>{}</pre>", text)


@admin.register(ChargerEvent)
class ChargerEventAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    account_lookup = "charge_box__account"
    list_display = ("received_at", "charge_box", "kind", "summary", "timestamp")
    list_select_related = ("charge_box",)
    list_filter = ("kind", "received_at")
    search_fields = ("=charge_box__charge_box_id",)
    date_hierarchy = "received_at"

    @admin.display(description="payload")
    def summary(self, event):
        text = json.dumps(event.payload)
        return text[:160] + ("…" if len(text) > 160 else "")


@admin.register(OperationTask)
class OperationTaskAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    """SteVe's tasks: each operation sent, and how every charger answered."""

    list_display = ("pk", "action", "requested_by", "created_at", "finished", "answered", "errors", "not_sent")
    list_filter = ("action", "finished", "created_at")
    search_fields = ("action", "requested_by", "=pk")
    list_select_related = ("account",)
    fields = (
        "action",
        "params",
        "requested_by",
        "charge_box_ids",
        "created_at",
        "finished_at",
        "finished",
        "success_responses",
        "error_responses",
        "exceptions",
    )
    readonly_fields = fields

    @admin.display(description="answered")
    def answered(self, task):
        return len(task.success_responses)

    @admin.display(description="CALLERRORs")
    def errors(self, task):
        return len(task.error_responses)

    @admin.display(description="exceptions")
    def not_sent(self, task):
        return len(task.exceptions)
