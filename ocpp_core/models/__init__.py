"""ocpp_core's models, by subject: charge boxes, tags, transactions, charging profiles, message logs."""

from .charge_boxes import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    ChargeBox,
    Connector,
    ConnectorStatus,
    InstalledCertificate,
    ServerProcess,
    UnknownChargeBox,
)
from .charging_profiles import ChargingProfile, ChargingProfileAssignment
from .messages import ChargerEvent, OcppMessage, OperationTask
from .tags import LocalAuthListEntry, OcppTag, OcppTagGroup, User
from .transactions import ENERGY_REGISTER, MeterValue, Reservation, Transaction

__all__ = [
    "ENERGY_REGISTER",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "ChargeBox",
    "ChargerEvent",
    "ChargingProfile",
    "ChargingProfileAssignment",
    "Connector",
    "InstalledCertificate",
    "ConnectorStatus",
    "LocalAuthListEntry",
    "MeterValue",
    "OcppMessage",
    "ServerProcess",
    "OcppTag",
    "OcppTagGroup",
    "OperationTask",
    "Reservation",
    "Transaction",
    "UnknownChargeBox",
    "User",
]
