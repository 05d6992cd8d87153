from django.db import models
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector
from sites.models import Node

from .choices import PriceLevel, PriorityChangeSource, ProfileApplyStatus


class PriorityChange(models.Model):
    """One change of a connector's user priority (Connector.priority holds the current value): who set what, when,
    through which way (the API, the admin, an unplug that reset it)."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="priority_changes")
    priority = models.SmallIntegerField()
    previous_priority = models.SmallIntegerField()
    source = models.CharField(max_length=16, choices=PriorityChangeSource.choices)
    changed_by = models.CharField(
        max_length=150, blank=True, default="", db_default="", help_text="The API account or admin user."
    )
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.connector}: {self.previous_priority} → {self.priority}"


class ConnectorLoad(models.Model):
    """Load management's state of one connector: what its vehicle needs (when an integrator or operator said so),
    the grid phases it was seen to draw from, and the limit last allocated and applied. Needs and learned phases
    belong to the vehicle plugged in and are cleared on unplug."""

    connector = models.OneToOneField(Connector, on_delete=models.CASCADE, primary_key=True, related_name="load")
    departure_at = models.DateTimeField(null=True, blank=True, help_text="When the vehicle leaves, if known.")
    energy_needed_wh = models.FloatField(null=True, blank=True, help_text="Energy still wanted by departure, Wh.")
    phases_in_use = models.CharField(
        max_length=3, blank=True, help_text="Charger phases (1-3) the vehicle was seen to draw from; empty: unknown."
    )
    session_limit = models.JSONField(
        null=True,
        blank=True,
        help_text="A cap on the session set from outside (an eMSP's OCPI charging profile): transaction_id, "
        "start (ISO), unit (A or W), periods [{start_period: s, limit}], duration (s, optional).",
    )
    allocated_amps = models.FloatField(null=True, blank=True, help_text="The allocator's last answer, A per phase.")
    allocated_at = models.DateTimeField(null=True, blank=True)
    applied_amps = models.FloatField(null=True, blank=True, help_text="The limit the charger last accepted.")
    applied_purpose = models.CharField(max_length=32, blank=True)
    applied_transaction_id = models.IntegerField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_until = models.DateTimeField(
        null=True, blank=True, help_text="After this the charger falls back to its safe share (the lease)."
    )
    apply_status = models.CharField(max_length=16, choices=ProfileApplyStatus.choices, blank=True)

    class Meta:
        verbose_name = "connector load"

    def __str__(self):
        return f"load of {self.connector}"


class ChargerLoad(models.Model):
    """Load management's state of one charger: what it said it can do was asked when, and the charger-wide profiles
    it holds (priority/charging_profiles.py): its safe share, the hold's lease, its max profile."""

    charge_box = models.OneToOneField(ChargeBox, on_delete=models.CASCADE, primary_key=True, related_name="load")
    capabilities_asked_at = models.DateTimeField(null=True, blank=True)
    safe_amps = models.FloatField(null=True, blank=True, help_text="Its safe share, as the charger accepted it.")
    hold_until = models.DateTimeField(null=True, blank=True, help_text="The hold profile's lease, as accepted.")
    max_profile_amps = models.FloatField(null=True, blank=True, help_text="Its ChargePointMaxProfile, as accepted.")
    stack_level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Our stack level when its safe and hold profiles were accepted."
    )
    apply_status = models.CharField(max_length=16, choices=ProfileApplyStatus.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "charger load"

    def __str__(self):
        return f"load of {self.charge_box}"


class TimeOfUseWindow(models.Model):
    """A recurring time window of a site (its root node) with a price level and an optional peak cap: in an
    expensive window vehicles get only what their departures need; a peak cap limits the site's total power."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="time_of_use_windows")
    name = models.CharField(max_length=100, blank=True)
    weekdays = models.CharField(
        max_length=7, default="1234567", help_text="ISO weekdays it applies to: 1 = Monday ... 7 = Sunday."
    )
    starts_at = models.TimeField(help_text="Local time (TIME_ZONE).")
    ends_at = models.TimeField(help_text="Local time; before the start means it runs past midnight.")
    price_level = models.CharField(max_length=16, choices=PriceLevel.choices, default=PriceLevel.NORMAL)
    peak_cap_kw = models.FloatField(null=True, blank=True, help_text="Cap on the site's total power in the window.")

    class Meta:
        ordering = ["node", "starts_at"]
        verbose_name = "time-of-use window"

    def __str__(self):
        return self.name or f"{self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


class AllocationRun(models.Model):
    """One recompute of a site's allocation: why and when, how long it took, what was sent, and per node its limit,
    allocation and measured load per grid phase (the admin's chart reads these)."""

    root = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="allocation_runs")
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.CharField(max_length=64)
    duration_ms = models.FloatField()
    profiles_sent = models.PositiveIntegerField(default=0)
    nodes = models.JSONField(
        default=dict,
        help_text='{node id: {"limit": A per phase or null, "allocated": [L1, L2, L3], "measured": [L1, L2, L3]}}',
    )
    connectors = models.JSONField(default=dict, help_text="{connector pk: allocated A per phase}")

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["root", "-computed_at"], name="priority_run_root_latest")]

    def __str__(self):
        return f"{self.root} at {self.computed_at:%Y-%m-%d %H:%M:%S}"
