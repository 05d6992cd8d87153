"""Named values. OCPP's own enumerations come from the ocpp library; these turn them into model choices."""

from enum import Enum

from django.db import models
from ocpp.v16 import enums as ocpp16


def choices_of(ocpp_enum: type[Enum]) -> list[tuple[str, str]]:
    """Model field choices from an ocpp library enum: the stored value is OCPP's own spelling."""
    return [(member.value, member.value) for member in ocpp_enum]


RegistrationStatus = ocpp16.RegistrationStatus
REGISTRATION_STATUS_CHOICES = choices_of(ocpp16.RegistrationStatus)
CONNECTOR_STATUS_CHOICES = choices_of(ocpp16.ChargePointStatus)
CONNECTOR_ERROR_CODE_CHOICES = choices_of(ocpp16.ChargePointErrorCode)
AUTHORIZATION_STATUS_CHOICES = choices_of(ocpp16.AuthorizationStatus)
CHARGING_PROFILE_PURPOSE_CHOICES = choices_of(ocpp16.ChargingProfilePurposeType)
CHARGING_PROFILE_KIND_CHOICES = choices_of(ocpp16.ChargingProfileKindType)
RECURRENCY_KIND_CHOICES = choices_of(ocpp16.RecurrencyKind)
CHARGING_RATE_UNIT_CHOICES = choices_of(ocpp16.ChargingRateUnitType)


class PhaseRotation(models.TextChoices):
    """Which grid phases a charger's L1/L2/L3 are wired to (OCPP 1.6 ConnectorPhaseRotation values)."""

    RST = "RST", "RST (L1-L2-L3 standard)"
    RTS = "RTS", "RTS"
    SRT = "SRT", "SRT"
    STR = "STR", "STR"
    TRS = "TRS", "TRS"
    TSR = "TSR", "TSR"


class OcppProtocol(models.TextChoices):
    """The WebSocket subprotocols the central system speaks."""

    OCPP16J = "ocpp1.6", "OCPP 1.6J"


class StopEventActor(models.TextChoices):
    """Who ended a transaction (SteVe's names): the station's StopTransaction, or an operator closing it by hand."""

    STATION = "station", "station"
    MANUAL = "manual", "manual"


class ReservationStatus(models.TextChoices):
    """A reservation's life: requested, then the charger's ReserveNow answer, then how it ended."""

    REQUESTED = "Requested", "requested (waiting for the charger)"
    ACCEPTED = "Accepted", "accepted"
    FAULTED = "Faulted", "refused: faulted"
    OCCUPIED = "Occupied", "refused: occupied"
    REJECTED = "Rejected", "refused"
    UNAVAILABLE = "Unavailable", "refused: unavailable"
    FAILED = "Failed", "failed: the charger did not answer"
    CANCELLED = "Cancelled", "cancelled"
    USED = "Used", "used by a transaction"
    EXPIRED = "Expired", "expired"

    @classmethod
    def active(cls) -> list[str]:
        return [cls.REQUESTED, cls.ACCEPTED]


class MessageDirection(models.TextChoices):
    RECEIVED = "in", "charger → central system"
    SENT = "out", "central system → charger"


class ChargerEventKind(models.TextChoices):
    """Charger-initiated messages that are stored as they came, for the operator to read."""

    DATA_TRANSFER = "DataTransfer"
    DIAGNOSTICS_STATUS = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS = "FirmwareStatusNotification"
    SECURITY_EVENT = "SecurityEventNotification"
    SIGN_CERTIFICATE = "SignCertificate"
    LOG_STATUS = "LogStatusNotification"
    SIGNED_FIRMWARE_STATUS = "SignedFirmwareStatusNotification"
    UNKNOWN_STOP_TRANSACTION = "UnknownStopTransaction"
