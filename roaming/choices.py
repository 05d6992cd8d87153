from django.db import models


class OcpiRole(models.TextChoices):
    """The roles a party plays in OCPI 2.2.1 (Role enum of the credentials module)."""

    CPO = "CPO", "Charge Point Operator"
    EMSP = "EMSP", "eMobility Service Provider"
    HUB = "HUB", "Hub"
    NAP = "NAP", "National Access Point"
    NSP = "NSP", "Navigation Service Provider"
    OTHER = "OTHER", "Other"
    SCSP = "SCSP", "Smart Charging Service Provider"


class RegistrationState(models.TextChoices):
    """Where the credentials handshake with a party stands."""

    INVITED = "invited", "invited: token A issued, waiting for the party to register"
    REGISTERED = "registered", "registered: tokens B and C exchanged"
    UNREGISTERED = "unregistered", "unregistered"


class InterfaceRole(models.TextChoices):
    SENDER = "SENDER", "sender"
    RECEIVER = "RECEIVER", "receiver"
