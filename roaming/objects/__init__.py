"""OCPI 2.2.1 objects and their field rules (required fields, types, string lengths, enums), as DRF serializers: they
check what partners send us (credentials, Receiver interfaces, pulls) and, in the tests, what we emit; first_error
turns their errors into the message of a 2001, naming the field.
Every object is an OcpiObject: its optional fields may be null as well as omitted (the two mean the same), and
without_nulls is the object as we keep it. Fields the spec lists as optional and complex (opening times, energy mix,
images, ...) are checked for their type only; unknown fields are ignored, as the spec asks of receivers.
One module per OCPI module; the names are re-exported here."""

from .cdrs import (
    AUTH_METHODS,
    CDR_DIMENSION_TYPES,
    CdrDimensionSerializer,
    CdrLocationSerializer,
    CdrSerializer,
    CdrTokenSerializer,
    ChargingPeriodSerializer,
    SignedDataSerializer,
    SignedValueSerializer,
)
from .chargingprofiles import (
    ActiveChargingProfileSerializer,
    ChargingProfileResponseSerializer,
    ChargingProfileResultSerializer,
    ChargingProfileSerializer,
    SetChargingProfileSerializer,
)
from .commands import (
    COMMAND_SERIALIZERS,
    CommandResponseSerializer,
    CommandResultSerializer,
)
from .common import OcpiDateTimeField, OcpiObject, first_error, is_older, without_nulls
from .credentials import BusinessDetailsSerializer, CredentialsRoleSerializer, CredentialsSerializer
from .hubclientinfo import CONNECTION_STATUSES, ClientInfoSerializer
from .locations import (
    CAPABILITIES,
    CONNECTOR_FORMATS,
    CONNECTOR_TYPES,
    POWER_TYPES,
    ConnectorSerializer,
    EvseSerializer,
    GeoLocationSerializer,
    LocationSerializer,
    NestedConnectorSerializer,
)
from .sessions import SESSION_STATUSES, SessionSerializer
from .tariffs import (
    DAYS_OF_WEEK,
    RESERVATION_RESTRICTION_TYPES,
    TARIFF_DIMENSION_TYPES,
    TARIFF_TYPES,
    DisplayTextSerializer,
    PriceComponentSerializer,
    PriceSerializer,
    PushedTariffSerializer,
    TariffElementSerializer,
    TariffRestrictionsSerializer,
    TariffSerializer,
)
from .tokens import AuthorizationInfoSerializer, LocationReferencesSerializer, TokenSerializer

__all__ = [
    "ActiveChargingProfileSerializer",
    "ChargingProfileResponseSerializer",
    "ChargingProfileResultSerializer",
    "ChargingProfileSerializer",
    "SetChargingProfileSerializer",
    "CONNECTION_STATUSES",
    "ClientInfoSerializer",
    "COMMAND_SERIALIZERS",
    "CommandResponseSerializer",
    "CommandResultSerializer",
    "AUTH_METHODS",
    "CAPABILITIES",
    "CDR_DIMENSION_TYPES",
    "CONNECTOR_FORMATS",
    "CONNECTOR_TYPES",
    "DAYS_OF_WEEK",
    "POWER_TYPES",
    "RESERVATION_RESTRICTION_TYPES",
    "SESSION_STATUSES",
    "TARIFF_DIMENSION_TYPES",
    "TARIFF_TYPES",
    "AuthorizationInfoSerializer",
    "BusinessDetailsSerializer",
    "CdrDimensionSerializer",
    "CdrLocationSerializer",
    "CdrSerializer",
    "CdrTokenSerializer",
    "ChargingPeriodSerializer",
    "ConnectorSerializer",
    "CredentialsRoleSerializer",
    "CredentialsSerializer",
    "DisplayTextSerializer",
    "EvseSerializer",
    "GeoLocationSerializer",
    "LocationReferencesSerializer",
    "LocationSerializer",
    "NestedConnectorSerializer",
    "OcpiDateTimeField",
    "OcpiObject",
    "PriceComponentSerializer",
    "PriceSerializer",
    "PushedTariffSerializer",
    "SessionSerializer",
    "SignedDataSerializer",
    "SignedValueSerializer",
    "TariffElementSerializer",
    "TariffRestrictionsSerializer",
    "TariffSerializer",
    "TokenSerializer",
    "first_error",
    "is_older",
    "without_nulls",
]
