"""OCPI 2.2.1 objects and their field rules (required fields, types, string lengths, enums), as DRF serializers: they
check what partners send us (credentials, Receiver interfaces, pulls) and, in the tests, what we emit; first_error
turns their errors into the message of a 2001, naming the field.
Fields the spec lists as optional and complex (opening times, energy mix, images, ...) are checked for their type
only; unknown fields are ignored, as the spec asks of receivers.
One module per OCPI module; the names are re-exported here."""

from .common import OcpiDateTimeField, first_error
from .credentials import BusinessDetailsSerializer, CredentialsRoleSerializer, CredentialsSerializer
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
from .tokens import AuthorizationInfoSerializer, LocationReferencesSerializer, TokenSerializer

__all__ = [
    "CAPABILITIES",
    "CONNECTOR_FORMATS",
    "CONNECTOR_TYPES",
    "POWER_TYPES",
    "BusinessDetailsSerializer",
    "ConnectorSerializer",
    "CredentialsRoleSerializer",
    "CredentialsSerializer",
    "EvseSerializer",
    "GeoLocationSerializer",
    "LocationSerializer",
    "NestedConnectorSerializer",
    "OcpiDateTimeField",
    "first_error",
    "AuthorizationInfoSerializer",
    "LocationReferencesSerializer",
    "TokenSerializer",
]
