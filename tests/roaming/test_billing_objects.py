"""The OCPI 2.2.1 field rules of tariffs, sessions and CDRs: every example the spec gives of them is accepted, and a
missing required field, a string too long or a value outside its enum is refused with a message naming the field."""

import copy
import json

import pytest

from roaming.objects import (
    CdrSerializer,
    DisplayTextSerializer,
    PushedTariffSerializer,
    SessionSerializer,
    TariffSerializer,
    first_error,
)

from .ocpi_examples import EXAMPLES, example

# The restriction examples are whole tariffs, too; the PUT example is a tariff without last_updated.
FULL_TARIFFS = sorted(
    path
    for path in [*EXAMPLES.glob("tariff_*.json"), *EXAMPLES.glob("tariffrestriction_example_*.json")]
    if path.name != "tariff_put_example.json"
)
SESSIONS = sorted(EXAMPLES.glob("session_example_*.json"))


def error_of(serializer_class, data) -> str:
    serializer = serializer_class(data=data)
    assert not serializer.is_valid()
    return first_error(serializer.errors)


def test_it_finds_the_examples():
    assert len(FULL_TARIFFS) == 19
    assert len(SESSIONS) == 2


@pytest.mark.parametrize("path", FULL_TARIFFS, ids=[p.name for p in FULL_TARIFFS])
def test_it_accepts_every_tariff_example(path):
    serializer = TariffSerializer(data=json.loads(path.read_text()))
    assert serializer.is_valid(), serializer.errors


def test_it_accepts_the_put_example_as_a_pushed_tariff_only():
    tariff = example("tariff_put_example.json")
    serializer = PushedTariffSerializer(data=tariff)
    assert serializer.is_valid(), serializer.errors
    assert error_of(TariffSerializer, tariff) == "last_updated: This field is required."


@pytest.mark.parametrize("path", SESSIONS, ids=[p.name for p in SESSIONS])
def test_it_accepts_every_session_example(path):
    serializer = SessionSerializer(data=json.loads(path.read_text()))
    assert serializer.is_valid(), serializer.errors


def test_it_accepts_the_cdr_example():
    serializer = CdrSerializer(data=example("cdr_example.json"))
    assert serializer.is_valid(), serializer.errors


def test_it_accepts_the_display_text_example():
    serializer = DisplayTextSerializer(data=example("type_displaytext_example.json"))
    assert serializer.is_valid(), serializer.errors


def changed(name: str, change) -> dict:
    data = copy.deepcopy(example(name))
    change(data)
    return data


@pytest.mark.parametrize(
    "serializer_class, name, change, message",
    [
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t.pop("currency"),
            "currency: This field is required.",
        ),
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t.update(id="x" * 37),
            "id: Ensure this field has no more than 36 characters.",
        ),
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t.update(elements=[]),
            "elements: This list may not be empty.",
        ),
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t["elements"][1]["price_components"][0].update(type="KWH"),
            'elements[1].price_components[0].type: "KWH" is not a valid choice.',
        ),
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t["elements"][0]["price_components"][0].pop("step_size"),
            "elements[0].price_components[0].step_size: This field is required.",
        ),
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t["elements"][4]["restrictions"].update(start_time="24:00"),
            "elements[4].restrictions.start_time: This value does not match the required pattern.",
        ),
        (
            TariffSerializer,
            "tariff_4_complex.json",
            lambda t: t["elements"][5]["restrictions"].update(day_of_week=["SAT"]),
            'elements[5].restrictions.day_of_week[0]: "SAT" is not a valid choice.',
        ),
        (
            TariffSerializer,
            "tariff_2_alt_text.json",
            lambda t: t["tariff_alt_text"][1].update(text="x" * 513),
            "tariff_alt_text[1].text: Ensure this field has no more than 512 characters.",
        ),
        (
            TariffSerializer,
            "tariff_12_025kwh_min_price.json",
            lambda t: t["min_price"].pop("excl_vat"),
            "min_price.excl_vat: This field is required.",
        ),
        (
            SessionSerializer,
            "session_example_2_short_finished.json",
            lambda s: s.update(status="STOPPED"),
            'status: "STOPPED" is not a valid choice.',
        ),
        (
            SessionSerializer,
            "session_example_2_short_finished.json",
            lambda s: s["cdr_token"].pop("contract_id"),
            "cdr_token.contract_id: This field is required.",
        ),
        (
            SessionSerializer,
            "session_example_2_short_finished.json",
            lambda s: s["charging_periods"][2]["dimensions"][0].update(type="PARKING"),
            'charging_periods[2].dimensions[0].type: "PARKING" is not a valid choice.',
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c["cdr_location"].update(address="x" * 46),
            "cdr_location.address: Ensure this field has no more than 45 characters.",
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c["cdr_location"].update(connector_format="PLUG"),
            'cdr_location.connector_format: "PLUG" is not a valid choice.',
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c.update(auth_method="RFID"),
            'auth_method: "RFID" is not a valid choice.',
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c.update(charging_periods=[]),
            "charging_periods: This list may not be empty.",
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c["tariffs"][0].pop("last_updated"),
            "tariffs[0].last_updated: This field is required.",
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c.pop("total_cost"),
            "total_cost: This field is required.",
        ),
        (
            CdrSerializer,
            "cdr_example.json",
            lambda c: c.update(signed_data={"encoding_method": "OCMF", "signed_values": []}),
            "signed_data.signed_values: This list may not be empty.",
        ),
    ],
)
def test_it_refuses_a_broken_object_naming_the_field(serializer_class, name, change, message):
    assert error_of(serializer_class, changed(name, change)) == message


def test_it_allows_a_longer_id_to_a_credit_cdr_only():
    original = example("cdr_example.json")
    credit = {**original, "id": "x" * 39, "credit": True, "credit_reference_id": original["id"]}
    assert CdrSerializer(data=credit).is_valid()

    assert error_of(CdrSerializer, {**credit, "credit": False}) == (
        "id: Only a credit CDR may have an id longer than 36 characters."
    )
    assert error_of(CdrSerializer, {**credit, "credit_reference_id": ""}) == (
        "credit_reference_id: This field may not be blank."
    )
    without_reference = {key: value for key, value in credit.items() if key != "credit_reference_id"}
    assert error_of(CdrSerializer, without_reference) == (
        "credit_reference_id: A credit CDR must name the CDR it credits."
    )
