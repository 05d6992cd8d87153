"""OCPP-J 1.6 framing and errors, as the specification defines them.

The ocpp library answers an unknown action with NotSupported and a known-but-unhandled one with NotImplemented
(the reverse of OCPP-J 1.6, section 4.2.3), only logs frames it cannot parse, and reports a missing field as a
ProtocolError but an out-of-range value as a FormationViolation. Powerfill parses frames itself and answers:

* a frame that is not JSON, not an array or not a known message type -> CALLERROR with id "-1" (as OCPP 2.0.1
  prescribes; 1.6 gives no id to answer to), FormationViolation, or ProtocolError when elements are missing;
* arrays and objects nested deeper than MAX_NESTING_DEPTH levels (the frame's own array counts; OCPP 1.6's deepest
  message nests 6) -> FormationViolation, with the frame's id where its head names one, before the JSON is parsed;
* an action OCPP 1.6 does not define -> NotImplemented; one it defines but a central system does not accept
  (e.g. a charger sending Reset) -> NotSupported;
* a payload against the action's JSON schema: a missing field -> OccurenceConstraintViolation (OCPP 1.6 spells it
  so), a wrong JSON type -> TypeConstraintViolation, a value outside its enumeration, length or range ->
  PropertyConstraintViolation, an unexpected field -> FormationViolation;
* a value the schema allows but Powerfill cannot store -> PropertyConstraintViolation, on every database alike:
  integers are 32-bit (OCPP's "integer"), connector ids 0..32767 (the column that holds them), and text may not
  contain U+0000 (PostgreSQL's text and jsonb cannot hold it) or an unpaired surrogate (not UTF-8 at all).
"""

import asyncio
import json
import re
from contextvars import ContextVar
from functools import cache

import fastjsonschema
from django.db.backends.base.operations import BaseDatabaseOperations
from fastjsonschema import JsonSchemaValueException
from ocpp.exceptions import (
    FormationViolationError,
    NotImplementedError,
    NotSupportedError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType, get_validator
from ocpp.v16.enums import Action

from .models import Connector
from .timestamps import parse_charger_time

MAX_UNIQUE_ID_LENGTH = 36
UNKNOWN_MESSAGE_ID = "-1"
MAX_NESTING_DEPTH = 16

CHARGER_ACTIONS = frozenset(
    {
        Action.authorize,
        Action.boot_notification,
        Action.data_transfer,
        Action.diagnostics_status_notification,
        Action.firmware_status_notification,
        Action.heartbeat,
        Action.log_status_notification,
        Action.meter_values,
        Action.security_event_notification,
        Action.sign_certificate,
        Action.signed_firmware_status_notification,
        Action.start_transaction,
        Action.status_notification,
        Action.stop_transaction,
    }
)
_KNOWN_ACTIONS = frozenset(action.value for action in Action)
_PROPERTY_KEYWORDS = {"enum", "maxLength", "minLength", "maximum", "minimum", "pattern", "format", "multipleOf"}

_HEAD_UNIQUE_ID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,36})"')
# A frame's structure as bytes: its quotes and brackets alone, objects' braces as brackets (only the depth counts).
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_QUOTED = re.compile(rb'"[^"]*"')
# JSON escapes of what no database of ours stores (a raw frame cannot carry them: its control characters are not
# JSON, and the WebSocket delivers UTF-8); only a frame with one of these needs its text looked through.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class FrameError(Exception):
    """A frame that cannot be handled, with the CALLERROR that answers it."""

    def __init__(self, error: OCPPError, unique_id: str = UNKNOWN_MESSAGE_ID):
        super().__init__(error.description)
        self.error = error
        self.unique_id = unique_id

    def call_error(self) -> CallError:
        return CallError(self.unique_id, self.error.code, self.error.description, self.error.details or {})


def unique_id_at_start(text: str) -> str:
    """The unique id a frame's head names, read without parsing the frame (one too large or too deeply nested to
    parse is still answered with its own id); "-1" if the head names none."""
    match = _HEAD_UNIQUE_ID.match(text[:200])
    return match.group(1) if match else UNKNOWN_MESSAGE_ID


def parse_frame(text: str) -> Call | CallResult | CallError:
    """A received frame as the library's message objects, or FrameError with the CALLERROR to send."""
    if _nests_too_deep(text):
        # Parsing it would take the parser's recursion to its limit (a RecursionError at about 1,000 levels).
        raise FrameError(
            FormationViolationError(description=f"Arrays and objects nest more than {MAX_NESTING_DEPTH} levels."),
            unique_id_at_start(text),
        )
    try:
        frame = json.loads(text)
    except (ValueError, TypeError) as error:
        raise FrameError(FormationViolationError(description="The frame is not valid JSON.")) from error
    if not isinstance(frame, list) or not frame:
        raise FrameError(FormationViolationError(description="An OCPP-J frame is a non-empty JSON array."))
    message_type = frame[0]
    unique_id = frame[1] if len(frame) > 1 and _valid_unique_id(frame[1]) else UNKNOWN_MESSAGE_ID
    if "\\u" in text and _UNSTORABLE_ESCAPE.search(text) and _has_unstorable_text(frame):
        raise FrameError(
            PropertyConstraintViolationError(
                description="Text may not contain U+0000 or unpaired surrogates: Powerfill cannot store it."
            ),
            unique_id if not _has_unstorable_text(unique_id) else UNKNOWN_MESSAGE_ID,
        )
    if message_type == MessageType.Call:
        if len(frame) != 4:
            raise FrameError(ProtocolError(description="A CALL has 4 elements: [2, id, action, payload]."), unique_id)
        _, frame_id, action, payload = frame
        if not _valid_unique_id(frame_id):
            raise FrameError(FormationViolationError(description="The unique id is a string of up to 36 characters."))
        if not isinstance(action, str):
            raise FrameError(FormationViolationError(description="The action is a string."), unique_id)
        if not isinstance(payload, dict):
            raise FrameError(FormationViolationError(description="The payload is a JSON object."), unique_id)
        return Call(frame_id, action, payload)
    if message_type == MessageType.CallResult:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(ProtocolError(description="A CALLRESULT is [3, id, payload]."), unique_id)
        return CallResult(frame[1], frame[2])
    if message_type == MessageType.CallError:
        if len(frame) != 5:
            raise FrameError(
                ProtocolError(description="A CALLERROR is [4, id, code, description, details]."), unique_id
            )
        return CallError(*frame[1:])
    raise FrameError(ProtocolError(description=f"Unknown MessageTypeId {message_type!r}."), unique_id)


def check_call(call: Call, handled: frozenset[str] = CHARGER_ACTIONS) -> None:
    """Raise the OCPP error for a CALL this central system cannot serve: unknown action, one it does not accept,
    or a payload against the action's schema."""
    if call.action not in _KNOWN_ACTIONS:
        raise NotImplementedError(description=f"OCPP 1.6 has no action {call.action!r}.")
    if call.action not in handled:
        raise NotSupportedError(description=f"A central system does not accept {call.action}.")
    validate_schema(call)


def validate_schema(message: Call | CallResult) -> None:
    try:
        _validator(message.message_type_id, message.action)(message.payload)
    except JsonSchemaValueException as error:
        raise _schema_error(error) from error


def _is_date_time(value) -> bool:
    return not isinstance(value, str) or parse_charger_time(value) is not None


@cache
def _validator(message_type_id: int, action: str):
    """The library's JSON schema for the action, compiled to Python (fastjsonschema is an order of magnitude faster
    than interpreting it), and checking date-time values too, which the library leaves out."""
    schema = _with_integer_bounds(get_validator(message_type_id, action, "1.6").schema)
    return fastjsonschema.compile(schema, formats={"date-time": _is_date_time})


class PendingCall:
    """A CSMS-initiated call waiting for its turn: `send_by` ends the wait for the turn; once the CALL is sent
    it no longer applies (the charger's answer has its own timeout)."""

    def __init__(self, send_by: asyncio.Timeout, secrets: tuple[str, ...] = ()):
        self.send_by = send_by
        self.sent = False
        self.secrets = secrets  # values the frame carries that nothing may keep (the message log holds a mask)

    def mark_sent(self) -> None:
        if self.send_by.expired():
            raise TimeoutError("Not sent: its time was up.")
        self.send_by.reschedule(None)
        self.sent = True


# The call the running task is about to send (set by the consumer around ChargePoint.call).
pending_call: ContextVar[PendingCall] = ContextVar("pending_call")

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# Payload integers kept in a column narrower than 32 bits, by property name, with the range of that column as
# Django defines it for every database (SQLite would store any 64-bit number, PostgreSQL's smallint refuses more
# than 32767, and both refuse a negative connector id): OCPP 1.6 uses connectorId for the connector alone.
STORED_INTEGER_RANGES = {
    "connectorId": BaseDatabaseOperations.integer_field_ranges[
        Connector._meta.get_field("connector_id").get_internal_type()
    ],
}


def _with_integer_bounds(schema, name: str | None = None):
    """A copy of the schema where every integer is a 32-bit one, as OCPP 1.6's "integer" is (section 3.3 of the
    JSON specification), or within the range of the column that keeps it (STORED_INTEGER_RANGES): the schemas leave
    the range open, and a larger number would fail at the database, as an InternalError instead of the charger's
    own mistake."""
    if isinstance(schema, list):
        return [_with_integer_bounds(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    bounded = {
        key: (
            {prop: _with_integer_bounds(value[prop], prop) for prop in value}
            if key == "properties" and isinstance(value, dict)
            else _with_integer_bounds(value)
        )
        for key, value in schema.items()
    }
    if bounded.get("type") == "integer":
        low, high = STORED_INTEGER_RANGES.get(name, (INT32_MIN, INT32_MAX))
        bounded["minimum"] = max(bounded.get("minimum", low), low)
        bounded["maximum"] = min(bounded.get("maximum", high), high)
    return bounded


def _nests_too_deep(text: str) -> bool:
    """Do the frame's arrays and objects nest more than MAX_NESTING_DEPTH levels? Told without parsing, in a few
    passes of C over the text: a frame with fewer brackets than that cannot; otherwise its brackets outside
    strings are kept and innermost pairs removed, one level a pass, MAX_NESTING_DEPTH passes at most."""
    if text.count("[") + text.count("{") <= MAX_NESTING_DEPTH:
        return False
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:  # escaped quotes and backslashes neither open nor close a string
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = data.translate(_AS_BRACKETS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        # Brackets inside strings (a string left more than its two quotes): strings are taken out one by one.
        structure = _QUOTED.sub(b"", data.translate(_AS_BRACKETS, _NOT_STRUCTURE))
    for _ in range(MAX_NESTING_DEPTH):
        shorter = structure.replace(b"[]", b"")
        if len(shorter) == len(structure):
            return False
        structure = shorter
    return b"[]" in structure


def _has_unstorable_text(value) -> bool:
    """Does any string in the parsed frame (keys too) hold U+0000 or an unpaired surrogate? (json.loads joins a
    surrogate pair into one character, so any surrogate left is unpaired.)"""
    if isinstance(value, str):
        return _UNSTORABLE_CHARACTER.search(value) is not None
    if isinstance(value, list):
        return any(_has_unstorable_text(item) for item in value)
    if isinstance(value, dict):
        return any(_has_unstorable_text(key) or _has_unstorable_text(item) for key, item in value.items())
    return False


def _schema_error(error: JsonSchemaValueException) -> OCPPError:
    where = "/".join(str(part) for part in error.path[1:]) or "payload"
    cause = error.message.replace("data.", "", 1).replace("data ", "payload ", 1)
    details = {"field": where, "cause": cause}
    if error.rule == "required":
        return OccurenceConstraintViolationError(description=f"Missing field: {cause}", details=details)
    if error.rule == "type":
        return TypeConstraintViolationError(description=cause, details=details)
    if error.rule in _PROPERTY_KEYWORDS:
        return PropertyConstraintViolationError(description=cause, details=details)
    return FormationViolationError(description=cause, details=details)


def _valid_unique_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_UNIQUE_ID_LENGTH
