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


class PhaseRotation(models.TextChoices):
    """Which grid phases a charger's L1/L2/L3 are wired to (OCPP 1.6 ConnectorPhaseRotation values)."""

    RST = "RST", "RST (L1-L2-L3 standard)"
    RTS = "RTS", "RTS"
    SRT = "SRT", "SRT"
    STR = "STR", "STR"
    TRS = "TRS", "TRS"
    TSR = "TSR", "TSR"


class OcppProtocol(models.TextChoices):
    OCPP16J = "ocpp1.6", "OCPP 1.6J"
    OCPP201 = "ocpp2.0.1", "OCPP 2.0.1"
