"""A bounded, seeded fuzz of the OCPP-J endpoint over raw WebSockets, against a live Daphne process of its own.

Two chargers. One sends only frames that must be refused: nested too deep, integers outside what is stored,
wrong types, missing and unexpected fields, values outside enumerations and lengths, text no database stores,
unknown and central-system actions, invalid JSON, bad ids and message types, binary frames, and answers to calls
never made. The other sends schema-valid garbage: every charger action, every field filled at random within its
schema (strings of any characters up to their length, integers across their stored range). Every CALL must be
answered, in order, with its own id (or "-1" where the frame gives none), never with InternalError; the refused
frames write no row, the valid ones exactly their rows; both sockets still answer a Heartbeat; the server logs no
traceback. The same seed gives the same frames, so a failure can be replayed (FUZZ_SEED picks another).
"""

import json
import os
import random
from collections import Counter
from copy import deepcopy
from datetime import UTC, datetime

import pytest
from ocpp.messages import get_validator

from ocpp_core.models import ChargeBox, ChargerEvent, Connector, ConnectorStatus, MeterValue, Transaction
from ocpp_core.ocpp_j import (
    CHARGER_ACTIONS,
    INT32_MAX,
    INT32_MIN,
    MAX_NESTING_DEPTH,
    MAX_UNIQUE_ID_LENGTH,
    STORED_INTEGER_RANGES,
)

from ..factories import ChargeBoxFactory
from ..live import asgi_server_process
from .ocpp_client import raw_charger, run
from .test_ocpp_hostile_frames import server_settled  # noqa: F401 (an autouse fixture)

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("FUZZ_SEED", "20261208"))
REFUSED_FRAMES = 3000
VALID_CALLS = 1000
ACTIONS = sorted(CHARGER_ACTIONS)
CENTRAL_SYSTEM_ACTIONS = [
    "Reset",
    "RemoteStartTransaction",
    "ChangeConfiguration",
    "GetConfiguration",
    "UnlockConnector",
]
# Characters strings are drawn from: JSON's specials, brackets (the nesting check reads around strings), control
# characters, letters beyond ASCII and beyond the BMP (a surrogate pair once escaped).
ALPHABET = list('aZ09 _-.:/"\\[]{},\n\t\r\x01\x1féßżЖ中€😀𝄞')
EVENT_ACTIONS = {
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "LogStatusNotification",
    "SignedFirmwareStatusNotification",
    "StopTransaction",  # its transaction ids are never ones we issued: kept as an event
}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server_process(env={"OCPP_CALL_TIMEOUT": "3"}) as live:
        yield live


# Schema-valid values


def schema_of(action: str) -> dict:
    return get_validator(2, action, "1.6").schema


def _resolve(schema: dict, root: dict) -> dict:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return root["definitions"][name]
    return schema


def random_text(rng: random.Random, max_length: int | None) -> str:
    length = rng.randint(0, min(max_length if max_length is not None else 200, 200))
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def random_time(rng: random.Random) -> str:
    second = rng.randint(1_600_000_000, 1_760_000_000)  # 2020 to 2025: plausible, so never replaced by "now"
    fraction = rng.choice(["", ".5", ".123", ".123456"])
    zone = rng.choice(["Z", "+00:00", "+02:00", "-05:30"])
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone


def valid_value(rng: random.Random, schema: dict, root: dict, name: str = ""):
    schema = _resolve(schema, root)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        value = {}
        for prop, sub in schema.get("properties", {}).items():
            if prop in schema.get("required", []) or rng.random() < 0.6:
                value[prop] = valid_value(rng, sub, root, prop)
        return value
    if kind == "array":
        return [
            valid_value(rng, schema["items"], root) for _ in range(rng.randint(max(schema.get("minItems", 0), 1), 3))
        ]
    if kind == "integer":
        low, high = STORED_INTEGER_RANGES.get(name, (INT32_MIN, INT32_MAX))
        if name == "transactionId":  # never one Powerfill issued (those are small): no reading joins a session
            low = 10**9
        return rng.choice([low, high, rng.randint(low, high), rng.randint(max(low, 0), max(low, 0) + 100)])
    if kind == "number":
        return rng.uniform(-1e6, 1e6)
    if kind == "boolean":
        return rng.random() < 0.5
    if schema.get("format") == "date-time":
        return random_time(rng)
    return random_text(rng, schema.get("maxLength"))


def valid_payload(rng: random.Random, action: str) -> dict:
    schema = schema_of(action)
    return valid_value(rng, schema, schema)


# Paths to the fields of a payload, for mutations


def fields(value, path=()):
    """(path, value) of every field below the payload, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), item
            yield from fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from fields(item, (*path, index))


def field_schema(action: str, path) -> dict:
    root = schema = schema_of(action)
    for part in path:
        schema = _resolve(schema, root)
        schema = schema["items"] if isinstance(part, int) else schema["properties"][part]
    return _resolve(schema, root)


def replaced(payload: dict, path, value) -> dict:
    copy = deepcopy(payload)
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def removed(payload: dict, path) -> dict:
    copy = deepcopy(payload)
    target = copy
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return copy


# Frames that must be refused. Each kind makes (frame, the id its answer carries or None when none is due, the
# code it must have or None when several fit), or None where the payload drawn gives it nothing to change.


def nested(rng: random.Random) -> str:
    """JSON nested MAX_NESTING_DEPTH levels or (far) more: within any frame, too deep."""
    depth = rng.choice([MAX_NESTING_DEPTH, rng.randint(MAX_NESTING_DEPTH, 200), rng.randint(900, 5000)])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    return opener * depth + "1" + closer * depth


class Mutations:
    """The kinds of refused frame, for one CALL of `action` with a schema-valid `payload`."""

    def __init__(self, rng: random.Random, unique_id: str, action: str, payload: dict):
        self.rng, self.unique_id, self.action, self.payload = rng, unique_id, action, payload
        self.present = list(fields(payload))

    def call(self, payload, action: str | None = None) -> str:
        return json.dumps([2, self.unique_id, self.action if action is None else action, payload])

    def replaced_by(self, paths: list, values: list) -> str:
        return self.call(replaced(self.payload, self.rng.choice(paths), self.rng.choice(values)))

    def where(self, condition) -> list:
        return [path for path, value in self.present if condition(path, value, field_schema(self.action, path))]

    def deep(self):
        opened = self.call(self.payload)[: -len("}]")] + (", " if self.payload else "")
        return opened + f'"deep": {nested(self.rng)}}}]', self.unique_id, "FormationViolation"

    def integer(self):
        integers = self.where(lambda path, value, schema: schema.get("type") == "integer")
        if not integers:
            return None
        path = self.rng.choice(integers)
        low, high = STORED_INTEGER_RANGES.get(path[-1], (INT32_MIN, INT32_MAX))
        beyond = [low - 1, high + 1, low - self.rng.randint(1, 10**6), high + self.rng.randint(1, 10**9), 2**63]
        return self.replaced_by([path], beyond), self.unique_id, "PropertyConstraintViolation"

    def type(self):
        if not self.present:
            return None
        path, value = self.rng.choice(self.present)
        wrong = [other for other in (1, 1.5, "1", True, None, [], {}) if type(other) is not type(value)]
        return self.replaced_by([path], wrong), self.unique_id, None

    def missing(self):
        required = self.where(lambda path, value, schema: _required(self.action, path))
        if not required:
            return None
        return (
            self.call(removed(self.payload, self.rng.choice(required))),
            self.unique_id,
            "OccurenceConstraintViolation",
        )

    def enumeration(self):
        enums = self.where(lambda path, value, schema: "enum" in schema)
        if not enums:
            return None
        path = self.rng.choice(enums)
        first = field_schema(self.action, path)["enum"][0]
        return (
            self.replaced_by([path], ["", "Dancing", first.lower(), first + " "]),
            self.unique_id,
            "PropertyConstraintViolation",
        )

    def length(self):
        limited = self.where(lambda path, value, schema: "maxLength" in schema)
        if not limited:
            return None
        path = self.rng.choice(limited)
        too_long = "x" * (field_schema(self.action, path)["maxLength"] + self.rng.randint(1, 50))
        return self.replaced_by([path], [too_long]), self.unique_id, "PropertyConstraintViolation"

    def time(self):
        times = self.where(lambda path, value, schema: schema.get("format") == "date-time")
        if not times:
            return None
        bad = ["yesterday", "2026-13-01T00:00:00Z", "01.01.2026 10:00", "", "2026-01-01T25:00:00Z"]
        return self.replaced_by(times, bad), self.unique_id, "PropertyConstraintViolation"

    def unstorable(self):
        texts = self.where(lambda path, value, schema: isinstance(value, str) and "enum" not in schema)
        if not texts:
            return None
        bad = ["\x00", "a\x00b", "\ud800", "x\udfff", "\udc00\ud800"]
        return self.replaced_by(texts, bad), self.unique_id, "PropertyConstraintViolation"

    def extra(self):
        key = self.rng.choice(["extra", "connectorID", "x" * 40, ""])
        return self.call({**self.payload, key: 1}), self.unique_id, "FormationViolation"

    def unknown_action(self):
        name = self.rng.choice(["FlyToTheMoon", "heartbeat", "", "Heartbeat ", "StartTransaction2", "x" * 100])
        return self.call(self.payload, action=name), self.unique_id, "NotImplemented"

    def central_system_action(self):
        return self.call({}, action=self.rng.choice(CENTRAL_SYSTEM_ACTIONS)), self.unique_id, "NotSupported"

    def not_json(self):
        text = self.call(self.payload)
        cut = text[: self.rng.randint(0, len(text) - 1)]
        return self.rng.choice([cut, "", "nul", "[2,'a']", "\x00"]), "-1", "FormationViolation"

    def not_a_call(self):
        type_id = self.rng.choice([0, 1, 5, 6, 9, "2", None])
        return self.rng.choice(
            [
                (json.dumps({"2": self.unique_id}), "-1", "FormationViolation"),
                (json.dumps([2, self.unique_id, self.action]), self.unique_id, "ProtocolError"),
                (json.dumps([type_id, self.unique_id, self.action, self.payload]), self.unique_id, "ProtocolError"),
                (self.call(self.rng.choice([[], "x", 1, None])), self.unique_id, "FormationViolation"),
                (json.dumps([2, self.unique_id, 42, self.payload]), self.unique_id, "FormationViolation"),
            ]
        )

    def bad_id(self):
        bad = self.rng.choice([42, None, "", "x" * (MAX_UNIQUE_ID_LENGTH + 1), ["r"], "\ud800", "a\x00"])
        return json.dumps([2, bad, self.action, self.payload]), "-1", None

    def binary(self):
        return self.call(self.payload).encode(), "-1", "FormationViolation"

    def answer(self):
        """A well-formed answer to a call never made: no answer is due."""
        never = f"never-{self.unique_id}"
        if self.rng.random() < 0.5:
            return json.dumps([3, never, self.payload]), None, None
        return json.dumps([4, never, "GenericError", random_text(self.rng, 50), self.payload]), None, None

    def bad_answer(self):
        deep = f'[3,"{self.unique_id}",{nested(self.rng)}]'
        malformed = [json.dumps([3, self.unique_id]), json.dumps([4, self.unique_id, "GenericError"]), deep]
        return self.rng.choice(malformed), self.unique_id, None


# How often each kind is drawn.
KINDS = {
    "deep": 2,
    "integer": 2,
    "type": 1,
    "missing": 1,
    "enumeration": 1,
    "length": 1,
    "time": 1,
    "unstorable": 2,
    "extra": 1,
    "unknown_action": 1,
    "central_system_action": 1,
    "not_json": 1,
    "not_a_call": 1,
    "bad_id": 1,
    "binary": 1,
    "answer": 2,
    "bad_answer": 1,
}


def refused_frame(rng: random.Random, n: int) -> tuple[str, str | bytes, str | None, str | None]:
    """(kind, frame, the id of its answer or None, the code it must have or None) for the n-th frame to refuse."""
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    for _ in range(5):  # a kind that changes a field needs a payload that has one
        action = rng.choice(ACTIONS)
        mutations = Mutations(rng, f"r{n}", action, valid_payload(rng, action))
        made = getattr(mutations, kind)()
        if made is not None:
            return (kind, *made)
    return ("extra", *mutations.extra())


def _required(action: str, path) -> bool:
    if isinstance(path[-1], int):
        return False
    parent = field_schema(action, path[:-1]) if len(path) > 1 else schema_of(action)
    return path[-1] in parent.get("required", [])


# The run


async def exchange(base_url: str, charge_box_id: str, frames: list) -> tuple[list, list]:
    """Send every frame without waiting, then a Heartbeat; return the answers before the Heartbeat's, and it."""
    async with raw_charger(base_url, charge_box_id) as charger:
        for frame in frames:
            await charger.socket.send(frame)
        await charger.socket.send(json.dumps([2, "last", "Heartbeat", {}]))
        answers = []
        while True:
            answer = await charger.response(timeout=60)
            if answer[1] == "last":
                return answers, answer
            answers.append(answer)


def test_fuzzed_frames_are_each_answered_and_refused_ones_write_nothing(server, account):
    refused_box = ChargeBoxFactory(account=account, charge_box_id="FUZZ-REFUSED")
    valid_box = ChargeBoxFactory(account=account, charge_box_id="FUZZ-VALID")
    rng = random.Random(SEED)
    refused = [refused_frame(rng, n) for n in range(REFUSED_FRAMES)]
    valid_calls = [(rng.choice(ACTIONS), n) for n in range(VALID_CALLS)]
    valid_calls = [(action, valid_payload(rng, action), f"v{n}") for action, n in valid_calls]

    async def scenario():
        refused_answers, refused_last = await exchange(
            server.url, "FUZZ-REFUSED", [frame for _, frame, _, _ in refused]
        )
        valid_answers, valid_last = await exchange(
            server.url,
            "FUZZ-VALID",
            [json.dumps([2, unique_id, action, payload]) for action, payload, unique_id in valid_calls],
        )
        return refused_answers, refused_last, valid_answers, valid_last

    refused_answers, refused_last, valid_answers, valid_last = run(scenario())

    # Every CALL answered, in order, with its own id; every refused frame with a CALLERROR, never InternalError.
    expected = [(kind, unique_id, code) for kind, _, unique_id, code in refused if unique_id is not None]
    assert [answer[1] for answer in refused_answers] == [unique_id for _, unique_id, _ in expected]
    codes = Counter(answer[2] if answer[0] == 4 else "CALLRESULT" for answer in refused_answers)
    for (kind, _, code), answer in zip(expected, refused_answers, strict=True):
        assert answer[0] == 4 and answer[2] != "InternalError", (kind, answer)
        assert code is None or answer[2] == code, (kind, answer)
    assert [answer[1] for answer in valid_answers] == [unique_id for _, _, unique_id in valid_calls]
    not_accepted = [(call, answer) for call, answer in zip(valid_calls, valid_answers, strict=True) if answer[0] != 3]
    assert not not_accepted, not_accepted[:5]
    assert refused_last[0] == 3 and valid_last[0] == 3

    # Refused frames wrote nothing; accepted ones exactly their rows.
    for model in (ConnectorStatus, Connector, MeterValue, Transaction, ChargerEvent):
        assert not model.objects.filter(charge_box=refused_box).exists(), model
    box = ChargeBox.objects.get(pk=refused_box.pk)
    assert (box.charge_point_vendor, box.last_boot_at) == ("", None)
    sent = Counter(action for action, _, _ in valid_calls)
    assert ConnectorStatus.objects.filter(charge_box=valid_box).count() == sent["StatusNotification"]
    readings = sum(
        len(reading["sampledValue"])
        for action, payload, _ in valid_calls
        if action == "MeterValues"
        for reading in payload["meterValue"]
    )
    assert MeterValue.objects.filter(charge_box=valid_box).count() == readings
    starts = {
        (p["connectorId"], p["idTag"], p["meterStart"], p["timestamp"])
        for action, p, _ in valid_calls
        if action == "StartTransaction"
    }
    assert Transaction.objects.filter(charge_box=valid_box).count() == len(starts)
    assert ChargerEvent.objects.filter(charge_box=valid_box).count() == sum(sent[action] for action in EVENT_ACTIONS)

    log = server.log_path.read_text()
    assert "Traceback" not in log and "InternalError" not in log
    kinds = Counter(kind for kind, _, _, _ in refused)
    print(
        f"\nfuzz seed {SEED}: {len(refused) + len(valid_calls) + 2} frames sent "
        f"({len(refused)} to refuse: {dict(sorted(kinds.items()))}; {len(valid_calls)} schema-valid CALLs); "
        f"{len(refused_answers) + len(valid_answers) + 2} answers; "
        f"refused frames answered {dict(sorted(codes.items()))}"
    )
