from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from powerfill.accounts.models import Account

from ..choices import (
    CHARGING_PROFILE_KIND_CHOICES,
    CHARGING_PROFILE_PURPOSE_CHOICES,
    CHARGING_RATE_UNIT_CHOICES,
    RECURRENCY_KIND_CHOICES,
)
from .charge_boxes import ChargeBox
from .transactions import Transaction


class ChargingProfile(models.Model):
    """A stored OCPP 1.6 charging profile (SteVe's model): SetChargingProfile and RemoteStartTransaction send it
    by its primary key, which is also the chargingProfileId the charger sees."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="charging_profiles")
    description = models.CharField(max_length=200, blank=True)
    stack_level = models.PositiveIntegerField(default=0)
    purpose = models.CharField(max_length=32, choices=CHARGING_PROFILE_PURPOSE_CHOICES)
    kind = models.CharField(max_length=16, choices=CHARGING_PROFILE_KIND_CHOICES, default="Absolute")
    recurrency_kind = models.CharField(max_length=16, choices=RECURRENCY_KIND_CHOICES, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    start_schedule = models.DateTimeField(null=True, blank=True)
    charging_rate_unit = models.CharField(max_length=1, choices=CHARGING_RATE_UNIT_CHOICES, default="A")
    min_charging_rate = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    periods = models.JSONField(
        help_text='The schedule: [{"startPeriod": 0, "limit": 16.0, "numberPhases": 3}, ...], startPeriod in seconds.'
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["purpose", "stack_level", "pk"]

    def __str__(self):
        return self.description or f"{self.purpose} #{self.pk}"

    def clean(self):
        periods = self.periods
        if not isinstance(periods, list) or not periods:
            raise ValidationError({"periods": "Give at least one period."})
        starts = []
        for period in periods:
            if not isinstance(period, dict) or not {"startPeriod", "limit"} <= period.keys():
                raise ValidationError({"periods": "Each period needs startPeriod and limit."})
            if not isinstance(period["startPeriod"], int) or period["startPeriod"] < 0:
                raise ValidationError({"periods": "startPeriod is a whole number of seconds, 0 or more."})
            if not isinstance(period["limit"], int | float) or period["limit"] < 0:
                raise ValidationError({"periods": "limit is a number, 0 or more."})
            if period.get("numberPhases") not in (None, 1, 2, 3):
                raise ValidationError({"periods": "numberPhases is 1, 2 or 3."})
            starts.append(period["startPeriod"])
        if starts[0] != 0 or starts != sorted(set(starts)):
            raise ValidationError({"periods": "The first period starts at 0; later ones start later, in order."})
        if self.kind == "Recurring" and not self.recurrency_kind:
            raise ValidationError({"recurrency_kind": "A recurring profile needs Daily or Weekly."})
        if self.valid_from and self.valid_to and self.valid_from >= self.valid_to:
            raise ValidationError({"valid_to": "The profile must end after it begins."})

    def as_ocpp(self, *, transaction_id: int | None = None) -> dict:
        """The csChargingProfiles structure of SetChargingProfile / RemoteStartTransaction (camelCase JSON)."""
        schedule = {
            "chargingRateUnit": self.charging_rate_unit,
            "chargingSchedulePeriod": [
                {key: period[key] for key in ("startPeriod", "limit", "numberPhases") if period.get(key) is not None}
                for period in self.periods
            ],
        }
        if self.duration_seconds is not None:
            schedule["duration"] = self.duration_seconds
        if self.start_schedule is not None:
            schedule["startSchedule"] = self.start_schedule.isoformat()
        if self.min_charging_rate is not None:
            schedule["minChargingRate"] = self.min_charging_rate
        profile = {
            "chargingProfileId": self.pk,
            "stackLevel": self.stack_level,
            "chargingProfilePurpose": self.purpose,
            "chargingProfileKind": self.kind,
            "chargingSchedule": schedule,
        }
        if transaction_id is not None:
            profile["transactionId"] = transaction_id
        if self.recurrency_kind:
            profile["recurrencyKind"] = self.recurrency_kind
        if self.valid_from:
            profile["validFrom"] = self.valid_from.isoformat()
        if self.valid_to:
            profile["validTo"] = self.valid_to.isoformat()
        return profile


class ChargingProfileAssignment(models.Model):
    """A profile a charger accepted on a connector (0: the whole charger), until a ClearChargingProfile removes it."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="charging_profile_assignments")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    charging_profile = models.ForeignKey(ChargingProfile, on_delete=models.CASCADE, related_name="assignments")
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.CASCADE)
    assigned_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charge_box", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_box", "connector_id", "charging_profile"], name="ocpp_core_profile_assignment_unique"
            )
        ]

    def __str__(self):
        return f"{self.charging_profile} on {self.charge_box_id}/{self.connector_id}"
