"""Every integer a charger sends that reaches a column fits it: the frame check (ocpp_core.ocpp_j) refuses what the
column cannot hold, so the database never has to (an InternalError on PostgreSQL, silently kept on SQLite)."""

import pytest
from django.db.backends.base.operations import BaseDatabaseOperations
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.messages import Call, get_validator

from ocpp_core.models import Connector, ConnectorStatus, MeterValue, Transaction
from ocpp_core.ocpp_j import CHARGER_ACTIONS, INT32_MAX, INT32_MIN, check_call

NOW = "2026-03-01T10:00:00Z"
VALID = {
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    "MeterValues": {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "1"}]}]},
    "StartTransaction": {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": NOW},
    "StopTransaction": {"transactionId": 1, "meterStop": 0, "timestamp": NOW},
}
# Where each integer of a charger's message goes (ocpp_core.services.charger_messages): stored in these columns or
# compared with them. requestId (LogStatusNotification, SignedFirmwareStatusNotification) is kept in the event's
# JSON, where any 32-bit integer fits.
STORED_IN = {
    ("StatusNotification", "connectorId"): [
        Connector._meta.get_field("connector_id"),
        ConnectorStatus._meta.get_field("connector_id"),
    ],
    ("MeterValues", "connectorId"): [MeterValue._meta.get_field("connector_id")],
    ("MeterValues", "transactionId"): [MeterValue._meta.get_field("transaction")],
    ("StartTransaction", "connectorId"): [Transaction._meta.get_field("connector_id")],
    ("StartTransaction", "meterStart"): [Transaction._meta.get_field("meter_start")],
    ("StartTransaction", "reservationId"): [Transaction._meta.get_field("reservation")],
    ("StopTransaction", "transactionId"): [Transaction._meta.get_field("id")],
    ("StopTransaction", "meterStop"): [Transaction._meta.get_field("meter_stop")],
}
KEPT_AS_JSON = {("LogStatusNotification", "requestId"), ("SignedFirmwareStatusNotification", "requestId")}


def column_range(field) -> tuple[int, int]:
    """What the column holds on every database Powerfill runs on (Django's portable ranges: PostgreSQL's)."""
    column = field.target_field if field.is_relation else field
    return BaseDatabaseOperations.integer_field_ranges[column.get_internal_type()]


def accepted(action: str, prop: str, value: int) -> bool:
    try:
        check_call(Call("1", action, {**VALID[action], prop: value}))
    except PropertyConstraintViolationError:
        return False
    return True


def test_every_integer_of_a_charger_message_is_accounted_for():
    integers = set()
    for action in CHARGER_ACTIONS:
        schema = get_validator(2, action, "1.6").schema
        integers |= {(action, prop) for prop, sub in schema["properties"].items() if sub.get("type") == "integer"}
    assert integers == set(STORED_IN) | KEPT_AS_JSON


@pytest.mark.parametrize(("action", "prop"), list(STORED_IN))
def test_no_integer_beyond_its_column_is_accepted(action, prop):
    for field in STORED_IN[action, prop]:
        low, high = column_range(field)
        assert not accepted(action, prop, low - 1) and not accepted(action, prop, high + 1), field
        assert accepted(action, prop, max(low, INT32_MIN)) and accepted(action, prop, min(high, INT32_MAX)), field
