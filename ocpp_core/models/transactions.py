from django.db import models

from ..choices import AUTHORIZATION_STATUS_CHOICES, ReservationStatus, StopEventActor
from .charge_boxes import ChargeBox
from .tags import OcppTag

ENERGY_REGISTER = "Energy.Active.Import.Register"  # OCPP's default measurand


class Reservation(models.Model):
    """A ReserveNow: the connector (0 = any of the charger's) is held for one tag (or its parent) until expiry.
    Its primary key is the reservationId sent to the charger."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="reservations")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    ocpp_tag = models.ForeignKey(
        OcppTag, on_delete=models.CASCADE, related_name="reservations", verbose_name="OCPP tag"
    )
    expiry = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.REQUESTED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["charge_box", "status", "expiry"], name="ocpp_core_reservation_active")]

    def __str__(self):
        return f"Reservation {self.pk} of {self.charge_box_id}/{self.connector_id} for {self.ocpp_tag}"


class Transaction(models.Model):
    """A charging session as OCPP reports it, from StartTransaction to StopTransaction. Meter readings in Wh.

    The transactionId sent to the charger is the primary key. `started_at` is the charger's clock, or the time we
    received the start when the charger's clock was plainly unset (1970).
    """

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.PROTECT, related_name="transactions")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    id_tag = models.CharField("ID tag", max_length=20, help_text="As the charger sent it.")
    ocpp_tag = models.ForeignKey(
        OcppTag, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions", verbose_name="OCPP tag"
    )
    start_status = models.CharField(
        max_length=16,
        choices=AUTHORIZATION_STATUS_CHOICES,
        blank=True,
        help_text="The idTagInfo status the StartTransaction answer carried.",
    )
    reservation = models.ForeignKey(
        Reservation, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    started_at = models.DateTimeField()
    meter_start = models.IntegerField(help_text="Meter reading at start, Wh.")
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_stop = models.IntegerField(null=True, blank=True, help_text="Meter reading at stop, Wh.")
    # Set when the transaction stops; the chargers' SQL that starts it leaves them to the database's default.
    stop_reason = models.CharField(max_length=32, blank=True, default="", db_default="")
    stop_id_tag = models.CharField("stop ID tag", max_length=20, blank=True, default="", db_default="")
    stop_event_actor = models.CharField(
        max_length=16, choices=StopEventActor.choices, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["ocpp_tag"], condition=models.Q(stopped_at__isnull=True), name="ocpp_core_tx_active"),
        ]
        constraints = [
            # A charger that repeats its StartTransaction after a reconnect must get the same transactionId.
            models.UniqueConstraint(
                fields=["charge_box", "connector_id", "id_tag", "meter_start", "started_at"],
                name="ocpp_core_tx_start_once",
            ),
        ]

    def __str__(self):
        return f"Transaction {self.pk} at {self.charge_box_id}/{self.connector_id}"

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None

    @property
    def energy_wh(self) -> int | None:
        """Energy in total (stopped) or so far (running: needs the `latest_meter` annotation of
        ocpp_core.selectors.with_latest_meter, the newest energy register reading)."""
        end = self.meter_stop if self.meter_stop is not None else getattr(self, "latest_meter", None)
        return None if end is None else round(end) - self.meter_start


class MeterValue(models.Model):
    """One sampled value of a MeterValues or StopTransaction message, stored as sent.

    Absent optional fields stay blank (OCPP's defaults apply: measurand Energy.Active.Import.Register, unit Wh,
    context Sample.Periodic, location Outlet, format Raw). `value` keeps the charger's text verbatim, so signed
    meter data (Eichrecht) can be verified later; `numeric_value` is its number where it has one.
    """

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="meter_values")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.CASCADE, related_name="meter_values"
    )
    timestamp = models.DateTimeField(help_text="The charger's clock.")
    received_at = models.DateTimeField(auto_now_add=True)
    value = models.TextField()
    numeric_value = models.FloatField(null=True, blank=True)
    measurand = models.CharField(max_length=64, blank=True)
    phase = models.CharField(max_length=8, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    context = models.CharField(max_length=32, blank=True)
    location = models.CharField(max_length=16, blank=True)
    format = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["timestamp", "pk"]
        indexes = [
            models.Index(fields=["transaction", "timestamp"], name="ocpp_core_meter_tx"),
            models.Index(fields=["charge_box", "connector_id", "-timestamp"], name="ocpp_core_meter_recent"),
        ]

    def __str__(self):
        return f"{self.measurand or ENERGY_REGISTER} {self.value} {self.unit}"

    @property
    def is_signed(self) -> bool:
        return self.format == "SignedData"
