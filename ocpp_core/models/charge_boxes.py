from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from powerfill.accounts.models import Account
from sites.choices import PhaseCount

from ..choices import (
    CONNECTOR_ERROR_CODE_CHOICES,
    CONNECTOR_STATUS_CHOICES,
    REGISTRATION_STATUS_CHOICES,
    OcppProtocol,
    PhaseRotation,
    RegistrationStatus,
)
from ..validators import charge_box_id_validator

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
    heartbeat_interval = models.PositiveIntegerField(
        "heartbeat interval (s)",
        default=300,
        validators=[MinValueValidator(10)],
        help_text="Sent to the charger in the BootNotification answer.",
    )
    is_connected = models.BooleanField("connected", default=False, editable=False)
    connection_id = models.CharField(
        max_length=36, blank=True, editable=False, help_text="The socket currently holding this charger."
    )
    connected_at = models.DateTimeField(null=True, blank=True, editable=False)
    disconnected_at = models.DateTimeField(null=True, blank=True, editable=False)
    firmware_status = models.CharField(max_length=32, blank=True, editable=False)
    diagnostics_status = models.CharField(max_length=32, blank=True, editable=False)
    configuration = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The charger's configuration keys as its last GetConfiguration answer gave them.",
    )
    local_list_version = models.IntegerField(
        default=0, editable=False, help_text="The version of the local authorization list last sent."
    )

    auth_password_hash = models.CharField(
        max_length=128,
        blank=True,
        editable=False,
        help_text="Hash of the HTTP Basic password (OCPP security profile 1/2). Empty: no password required.",
    )
    require_client_certificate = models.BooleanField(
        default=False,
        help_text="OCPP security profile 3: only accept the connection when the TLS terminator vouches for a client "
        "certificate issued to this charge box ID (see OCPP_CLIENT_CERT_HEADER).",
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
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    evse_id = models.CharField(
        "EVSE ID",
        max_length=48,
        blank=True,
        default="",
        db_default="",  # the chargers' SQL (charger_messages) leaves it out
        help_text="eMI3 EVSE ID (e.g. DE*EDR*E12345678*1), used by roaming and the priority API.",
    )
    priority = models.SmallIntegerField(
        default=0,
        db_default=0,  # the chargers' SQL leaves it out
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


class ConnectorStatus(models.Model):
    """One StatusNotification as the charger sent it: the history behind Connector's current status."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="status_history")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    status = models.CharField(max_length=16, choices=CONNECTOR_STATUS_CHOICES)
    error_code = models.CharField(max_length=32, choices=CONNECTOR_ERROR_CODE_CHOICES)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    timestamp = models.DateTimeField(null=True, blank=True, help_text="The charger's clock, when it sent one.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "connector status history"
        indexes = [models.Index(fields=["charge_box", "connector_id", "-received_at"], name="ocpp_core_status_recent")]

    def __str__(self):
        return f"{self.charge_box_id}/{self.connector_id} {self.status}"


class UnknownChargeBox(models.Model):
    """A charger that tried to connect with an identity nobody registered. It was refused at the handshake, so
    it never got to send BootNotification; what the handshake told is kept for an operator to adopt it."""

    charge_box_id = models.CharField("charge box ID", max_length=255, unique=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)
    remote_address = models.CharField(max_length=64, blank=True)
    subprotocols = models.CharField("offered subprotocols", max_length=200, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    sent_credentials = models.BooleanField(default=False, help_text="It presented HTTP Basic credentials.")

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = "unknown charge box"

    def __str__(self):
        return self.charge_box_id


class ServerProcess(models.Model):
    """A server process holding charger sockets, alive while it renews its lease. A process that dies without
    closing its sockets (killed, out of memory, a host lost) stops renewing; the chargers it held are then marked
    disconnected (ocpp_core.services.connections.stale_connections_release)."""

    instance_id = models.CharField(max_length=12, primary_key=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    renewed_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at"]

    def __str__(self):
        return f"{self.host}:{self.pid} ({self.instance_id})"


class InstalledCertificate(models.Model):
    """A certificate a charger reported in GetInstalledCertificateIds (security whitepaper); DeleteCertificate
    names it by this primary key, as SteVe's installedCertificateId."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="installed_certificates")
    certificate_type = models.CharField(max_length=40)
    hash_algorithm = models.CharField(max_length=8)
    issuer_name_hash = models.CharField(max_length=128)
    issuer_key_hash = models.CharField(max_length=128)
    serial_number = models.CharField(max_length=40)
    reported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charge_box", "certificate_type", "serial_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_box", "certificate_type", "serial_number", "issuer_key_hash"],
                name="ocpp_core_installed_certificate_unique",
            )
        ]

    def __str__(self):
        return f"{self.certificate_type} {self.serial_number} on {self.charge_box_id}"

    def hash_data(self) -> dict:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }
