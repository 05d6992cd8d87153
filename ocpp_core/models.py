from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from powerfill.accounts.models import Account
from sites.choices import PhaseCount

from .choices import (
    CONNECTOR_ERROR_CODE_CHOICES,
    CONNECTOR_STATUS_CHOICES,
    REGISTRATION_STATUS_CHOICES,
    OcppProtocol,
    PhaseRotation,
    RegistrationStatus,
)
from .validators import charge_box_id_validator, id_tag_validator

PRIORITY_MIN, PRIORITY_MAX = -9, 9


class ChargeBox(models.Model):
    """A charging station (OCPP "charge point"), known by the identity it dials in with: /ocpp/{chargeBoxId}.

    The identity is unique across the platform because the WebSocket URL carries no account. Vendor, model,
    serial numbers and firmware are whatever the charger said in its last BootNotification.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="charge_boxes")
    charge_box_id = models.CharField(
        "charge box ID",
        max_length=48,
        unique=True,
        validators=[charge_box_id_validator],
        help_text="The OCPP identity configured in the charger (the last part of its WebSocket URL).",
    )
    description = models.TextField(blank=True)
    registration_status = models.CharField(
        max_length=16,
        choices=REGISTRATION_STATUS_CHOICES,
        default=RegistrationStatus.accepted,
        help_text="What BootNotification answers: Pending or Rejected chargers may not start sessions.",
    )
    node = models.ForeignKey(
        "sites.Node",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="charge_boxes",
        help_text="The site node this station belongs to. A station on no node admits nobody.",
    )

    ocpp_protocol = models.CharField(max_length=16, choices=OcppProtocol.choices, blank=True, editable=False)
    charge_point_vendor = models.CharField(max_length=20, blank=True, editable=False)
    charge_point_model = models.CharField(max_length=20, blank=True, editable=False)
    charge_point_serial_number = models.CharField(max_length=25, blank=True, editable=False, db_index=True)
    charge_box_serial_number = models.CharField(max_length=25, blank=True, editable=False, db_index=True)
    firmware_version = models.CharField(max_length=50, blank=True, editable=False)
    iccid = models.CharField("ICCID", max_length=20, blank=True, editable=False)
    imsi = models.CharField("IMSI", max_length=20, blank=True, editable=False)
    meter_type = models.CharField(max_length=25, blank=True, editable=False)
    meter_serial_number = models.CharField(max_length=25, blank=True, editable=False)
    last_boot_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_connected = models.BooleanField("connected", default=False, editable=False)

    auth_password_hash = models.CharField(
        max_length=128,
        blank=True,
        editable=False,
        help_text="Hash of the HTTP Basic password (OCPP security profile 1/2). Empty: no password required.",
    )
    upstream_url = models.CharField(
        "upstream URL",
        max_length=500,
        blank=True,
        help_text="Proxy mode: the third-party CSMS (ws:// or wss://) this charger is also connected to.",
    )

    max_current_a = models.FloatField(
        "max current (A per phase)",
        default=32,
        validators=[MinValueValidator(0)],
        help_text="The most this station can draw per phase.",
    )
    min_current_a = models.FloatField(
        "min current (A per phase)",
        default=6,
        validators=[MinValueValidator(0)],
        help_text="Below this a vehicle cannot charge (6 A per IEC 61851); load management pauses instead.",
    )
    phases = models.PositiveSmallIntegerField(choices=PhaseCount.choices, default=PhaseCount.THREE)
    phase_rotation = models.CharField(max_length=3, choices=PhaseRotation.choices, default=PhaseRotation.RST)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charge_box_id"]
        verbose_name = "charge box"
        verbose_name_plural = "charge boxes"

    def __str__(self):
        return self.charge_box_id

    def clean(self):
        if self.node_id is not None and self.node.account_id != self.account_id:
            raise ValidationError({"node": "The node belongs to another account."})
        if None not in (self.min_current_a, self.max_current_a) and self.min_current_a > self.max_current_a:
            raise ValidationError({"min_current_a": "The minimum current exceeds the maximum current."})
        if self.upstream_url and not self.upstream_url.startswith(("ws://", "wss://")):
            raise ValidationError({"upstream_url": "Use a ws:// or wss:// URL."})

    def set_auth_password(self, raw_password: str | None) -> None:
        self.auth_password_hash = make_password(raw_password) if raw_password else ""

    def check_auth_password(self, raw_password: str) -> bool:
        return bool(self.auth_password_hash) and check_password(raw_password, self.auth_password_hash)

    @property
    def requires_auth_password(self) -> bool:
        return bool(self.auth_password_hash)


class Connector(models.Model):
    """An outlet of a charge box as OCPP numbers it; connector 0 stands for the station as a whole."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    status = models.CharField(max_length=16, choices=CONNECTOR_STATUS_CHOICES, blank=True)
    error_code = models.CharField(max_length=32, choices=CONNECTOR_ERROR_CODE_CHOICES, blank=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)
    evse_id = models.CharField(
        "EVSE ID",
        max_length=48,
        blank=True,
        help_text="eMI3 EVSE ID (e.g. DE*EDR*E12345678*1), used by roaming and the priority API.",
    )
    priority = models.SmallIntegerField(
        default=0,
        validators=[MinValueValidator(PRIORITY_MIN), MaxValueValidator(PRIORITY_MAX)],
        help_text="User priority for load management, -9..9; higher wins; back to 0 on unplug.",
    )

    class Meta:
        ordering = ["charge_box", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["charge_box", "connector_id"], name="ocpp_core_connector_unique_id"),
            models.UniqueConstraint(
                fields=["evse_id"], condition=~models.Q(evse_id=""), name="ocpp_core_connector_unique_evse_id"
            ),
        ]

    def __str__(self):
        return f"{self.charge_box.charge_box_id}/{self.connector_id}"


class User(models.Model):
    """The person behind one or more OCPP tags (SteVe's "user"): who to call about a card, not a login."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tag_users")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        verbose_name = "user (tag holder)"
        verbose_name_plural = "users (tag holders)"

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"User {self.pk}"


class OcppTag(models.Model):
    """An identifier presented at a charger (RFID card, app token): SteVe's OCPP tag.

    `maxActiveTransactionCount` follows SteVe: 0 means blocked, a negative value means no limit. idTags compare
    case-insensitively, as OCPP's CiString does, and are unique within an account.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ocpp_tags")
    id_tag = models.CharField("ID tag", max_length=20, validators=[id_tag_validator])
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        verbose_name="parent ID tag",
        help_text="Sent to chargers as parentIdTag (a fleet or family card).",
    )
    expiry_date = models.DateTimeField(null=True, blank=True)
    max_active_transaction_count = models.IntegerField(
        default=1,
        validators=[MinValueValidator(-1)],
        help_text="How many sessions may run at once with this tag: 0 blocks it, -1 means no limit.",
    )
    note = models.TextField(blank=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="ocpp_tags")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id_tag"]
        verbose_name = "OCPP tag"
        constraints = [
            models.UniqueConstraint("account", Lower("id_tag"), name="ocpp_core_ocpptag_unique_id_tag"),
        ]

    def __str__(self):
        return self.id_tag

    @property
    def blocked(self) -> bool:
        return self.max_active_transaction_count == 0

    def is_expired(self, at=None) -> bool:
        return self.expiry_date is not None and self.expiry_date <= (at or timezone.now())

    def clean(self):
        if self.parent_id is not None:
            if self.parent.account_id != self.account_id:
                raise ValidationError({"parent": "The parent tag belongs to another account."})
            if self.parent_id == self.pk:
                raise ValidationError({"parent": "A tag cannot be its own parent."})
        if self.user_id is not None and self.user.account_id != self.account_id:
            raise ValidationError({"user": "The user belongs to another account."})
        if self.id_tag and self.account_id:
            duplicates = OcppTag.objects.filter(account_id=self.account_id, id_tag__iexact=self.id_tag)
            if duplicates.exclude(pk=self.pk).exists():
                raise ValidationError({"id_tag": f"An OCPP tag {self.id_tag!r} already exists."})


class OcppTagGroup(models.Model):
    """A named set of OCPP tags, so a permission can be granted to all of them at once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ocpp_tag_groups")
    name = models.CharField(max_length=100)
    ocpp_tags = models.ManyToManyField(OcppTag, blank=True, related_name="groups", verbose_name="OCPP tags")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "OCPP tag group"
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="ocpp_core_tag_group_unique_name")]

    def __str__(self):
        return self.name

    def clean(self):
        duplicates = OcppTagGroup.objects.filter(account_id=self.account_id, name=self.name).exclude(pk=self.pk)
        if self.account_id and duplicates.exists():
            raise ValidationError({"name": f"A tag group named {self.name!r} already exists."})


class Transaction(models.Model):
    """A charging session as OCPP reports it, from StartTransaction to StopTransaction. Energy in Wh."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.PROTECT, related_name="transactions")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    id_tag = models.CharField("ID tag", max_length=20, help_text="As the charger sent it.")
    ocpp_tag = models.ForeignKey(
        OcppTag,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="transactions",
        verbose_name="OCPP tag",
    )
    started_at = models.DateTimeField()
    meter_start = models.IntegerField(help_text="Meter reading at start, Wh.")
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_stop = models.IntegerField(null=True, blank=True, help_text="Meter reading at stop, Wh.")
    stop_reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["ocpp_tag"], condition=models.Q(stopped_at__isnull=True), name="ocpp_core_tx_active"),
        ]

    def __str__(self):
        return f"Transaction {self.pk} at {self.charge_box_id}/{self.connector_id}"

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None

    @property
    def energy_wh(self) -> int | None:
        return None if self.meter_stop is None else self.meter_stop - self.meter_start
