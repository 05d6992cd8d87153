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


class ParkingType(models.TextChoices):
    ALONG_MOTORWAY = "ALONG_MOTORWAY", "along a motorway"
    PARKING_GARAGE = "PARKING_GARAGE", "parking garage"
    PARKING_LOT = "PARKING_LOT", "parking lot"
    ON_DRIVEWAY = "ON_DRIVEWAY", "on a driveway"
    ON_STREET = "ON_STREET", "on the street"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE", "underground garage"


class EvseStatus(models.TextChoices):
    AVAILABLE = "AVAILABLE", "available"
    BLOCKED = "BLOCKED", "blocked"
    CHARGING = "CHARGING", "charging"
    INOPERATIVE = "INOPERATIVE", "inoperative"
    OUTOFORDER = "OUTOFORDER", "out of order"
    PLANNED = "PLANNED", "planned"
    REMOVED = "REMOVED", "removed"
    RESERVED = "RESERVED", "reserved"
    UNKNOWN = "UNKNOWN", "unknown (also: the charger is offline)"


class TokenType(models.TextChoices):
    AD_HOC_USER = "AD_HOC_USER", "ad hoc user (one-time, e.g. paid at the charger)"
    APP_USER = "APP_USER", "app user"
    OTHER = "OTHER", "other"
    RFID = "RFID", "RFID card"


class WhitelistType(models.TextChoices):
    """How a CPO may decide about a token (tokens module): from the token it holds, or by asking the eMSP."""

    ALWAYS = "ALWAYS", "always allowed when valid (no real-time check)"
    ALLOWED = "ALLOWED", "ask the eMSP when it can be reached, else allowed when valid"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE", "ask the eMSP; allowed when valid only if it cannot be reached"
    NEVER = "NEVER", "ask the eMSP every time"


class AllowedType(models.TextChoices):
    """The answer of a real-time authorization (AuthorizationInfo.allowed)."""

    ALLOWED = "ALLOWED", "allowed"
    BLOCKED = "BLOCKED", "blocked"
    EXPIRED = "EXPIRED", "expired"
    NO_CREDIT = "NO_CREDIT", "no credit"
    NOT_ALLOWED = "NOT_ALLOWED", "not allowed here"


class CommandType(models.TextChoices):
    CANCEL_RESERVATION = "CANCEL_RESERVATION", "cancel a reservation"
    RESERVE_NOW = "RESERVE_NOW", "reserve now"
    START_SESSION = "START_SESSION", "start a session"
    STOP_SESSION = "STOP_SESSION", "stop a session"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR", "unlock a connector"


class CommandResponseType(models.TextChoices):
    """The CPO's answer when it receives a command (before the charger is asked)."""

    NOT_SUPPORTED = "NOT_SUPPORTED", "not supported"
    REJECTED = "REJECTED", "rejected"
    ACCEPTED = "ACCEPTED", "accepted: the result follows"
    UNKNOWN_SESSION = "UNKNOWN_SESSION", "unknown session"


class CommandResultType(models.TextChoices):
    """What the charger made of a command, sent later to the eMSP's response_url."""

    ACCEPTED = "ACCEPTED", "accepted"
    CANCELED_RESERVATION = "CANCELED_RESERVATION", "the reservation was cancelled"
    EVSE_OCCUPIED = "EVSE_OCCUPIED", "the EVSE is occupied"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE", "the EVSE is inoperative"
    FAILED = "FAILED", "failed"
    NOT_SUPPORTED = "NOT_SUPPORTED", "not supported"
    REJECTED = "REJECTED", "rejected"
    TIMEOUT = "TIMEOUT", "the charger did not answer in time"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION", "unknown reservation"
