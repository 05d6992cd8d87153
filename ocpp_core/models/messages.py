from django.db import models

from powerfill.accounts.models import Account

from ..choices import ChargerEventKind, MessageDirection
from .charge_boxes import ChargeBox


class OcppMessage(models.Model):
    """Every OCPP-J frame in and out, per charger, kept for OCPP_MESSAGE_LOG_RETENTION_DAYS."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=MessageDirection.choices)
    message_type = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="2 CALL, 3 CALLRESULT, 4 CALLERROR"
    )
    unique_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, blank=True)
    payload = models.TextField(help_text="The frame as it went over the wire.")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "OCPP message"
        indexes = [models.Index(fields=["charge_box", "-created_at"], name="ocpp_core_message_recent")]

    def __str__(self):
        return f"{self.get_direction_display()} {self.action or self.unique_id}"


class ChargerEvent(models.Model):
    """A charger-initiated message kept as it came: DataTransfer, firmware and diagnostics status, security events,
    certificate signing requests, log status, and StopTransactions for transactions we never issued."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40, choices=ChargerEventKind.choices)
    payload = models.JSONField()
    timestamp = models.DateTimeField(null=True, blank=True, help_text="The charger's clock, when the message had one.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["charge_box", "kind", "-received_at"], name="ocpp_core_event_recent")]

    def __str__(self):
        return f"{self.kind} from {self.charge_box_id}"


class OperationTask(models.Model):
    """A CSMS-initiated operation sent to one or more chargers (SteVe's task), with each charger's outcome.
    Its primary key is the taskId the operations API answers with."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="operation_tasks")
    action = models.CharField(max_length=40)
    params = models.JSONField()
    requested_by = models.CharField(max_length=150, blank=True)
    charge_box_ids = models.JSONField(default=list)
    success_responses = models.JSONField(default=list)
    error_responses = models.JSONField(default=list)
    exceptions = models.JSONField(default=list)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "operation"

    def __str__(self):
        return f"{self.action} #{self.pk}"
