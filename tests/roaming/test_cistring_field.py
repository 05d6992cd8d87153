"""CiStrings are matched ignoring case by the columns themselves (roaming.fields.CiCharField): a plain
filter(ocpi_id=x), as any new code writes it, finds every spelling and uses the index of the unique constraint on the
upper-cased id; no call site has to remember to ask for it. CiStrings kept inside JSON are matched with iexact."""

from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.functions import Upper
from django.utils import timezone

from ocpp_core.models import OperationTask
from roaming import ocpi211
from roaming.choices import CommandResultType, CommandType, OcpiRole
from roaming.fields import CiCharField
from roaming.models import Location, PartnerLocation, PartnerObject, PartnerToken, PartyRole, ReceivedCommand, Tariff
from roaming.protocol import ci_lookup
from roaming.sessions import _start_command

from ..factories import ChargeBoxFactory, LocationFactory, OcpiIdentityFactory, PartyFactory, TransactionFactory

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 6, 1, tzinfo=UTC)


def ci_columns_of_unique_constraints():
    """(model, field name) of every column a roaming unique constraint compares upper-cased: the CiStrings."""
    for model in apps.get_app_config("roaming").get_models():
        for constraint in model._meta.constraints:
            for expression in getattr(constraint, "expressions", ()):
                if isinstance(expression, Upper):
                    yield model, expression.source_expressions[0].name


def test_every_column_compared_ignoring_case_is_a_ci_char_field():
    columns = sorted({(model.__name__, name) for model, name in ci_columns_of_unique_constraints()})
    assert len(columns) == 13
    assert [
        c for c in columns if not isinstance(apps.get_model("roaming", c[0])._meta.get_field(c[1]), CiCharField)
    ] == []


@pytest.fixture
def rows(account):
    partner = PartyFactory(account=account, role=None)
    identity = OcpiIdentityFactory(account=account)
    ids = {"partner": partner, "country_code": "Nl", "party_id": "eX1"}
    return {
        PartyRole: PartyRole.objects.create(**ids, role=OcpiRole.CPO, business_details={}),
        PartnerLocation: PartnerLocation.objects.create(**ids, ocpi_id="Loc-1", data={}, last_updated=WHEN),
        PartnerObject: PartnerObject.objects.create(
            **ids, module="sessions", ocpi_id="Ses-1", data={}, last_updated=WHEN
        ),
        PartnerToken: PartnerToken.objects.create(
            **ids,
            uid="Tok-1",
            type="RFID",
            contract_id="C",
            valid=True,
            whitelist="ALLOWED",
            data={},
            last_updated=WHEN,
        ),  # fmt: skip
        Location: LocationFactory(identity=identity, ocpi_id="Our-Loc-1"),
        Tariff: Tariff.objects.create(identity=identity, ocpi_id="Our-Tariff-1", currency="EUR", elements=[]),
    }


@pytest.mark.parametrize("spell", [str.upper, str.lower])
def test_a_plain_lookup_finds_a_cistring_in_any_case(rows, spell):
    for model, name in sorted(set(ci_columns_of_unique_constraints()), key=lambda c: (c[0].__name__, c[1])):
        stored = rows[model]
        value = spell(getattr(stored, name))
        assert model.objects.filter(**{name: value}).get() == stored, (model.__name__, name)
        assert not model.objects.exclude(**{name: value}).filter(pk=stored.pk).exists()
        assert model.objects.filter(**{f"{name}__in": ["other", value]}).get() == stored, (model.__name__, name)
    partner = rows[PartyRole].partner
    assert partner.tokens.get_or_create(country_code="NL", party_id="EX1", uid=spell("tok-1"), type="RFID")[1] is False


def test_a_plain_lookup_uses_the_index_of_the_unique_constraint(rows):
    location = rows[Location]
    query = Location.objects.filter(identity=location.identity, ocpi_id="our-loc-1")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    # The index is searched on both its columns, the upper-cased id included, not only on the identity.
    searched_on_the_id = "(identity_id=? AND <expr>=?)" if connection.vendor == "sqlite" else "upper((ocpi_id)::text) ="
    assert "roaming_location_unique_id_ci" in plan and searched_on_the_id in plan, plan


def test_a_cistring_inside_json_is_matched_ignoring_case_and_as_itself(rows):
    partner = rows[PartyRole].partner
    for reservation_id in ("R_1", "R%2", "RX1"):
        ReceivedCommand.objects.create(
            partner=partner, command=CommandType.RESERVE_NOW, data={"reservation_id": reservation_id}, response="x"
        )
    ReceivedCommand.objects.create(
        partner=partner, command=CommandType.START_SESSION, data={"token": {"uid": "Tok-1"}}, response="x"
    )

    def found(**lookup):
        return sorted(ReceivedCommand.objects.filter(**ci_lookup(**lookup)).values_list("pk", flat=True))

    assert len(found(data__reservation_id="r_1")) == 1  # not RX1: "_" is no wildcard here
    assert len(found(data__reservation_id="r%2")) == 1
    assert found(data__reservation_id="r%") == []
    assert len(found(data__token__uid="TOK-1")) == 1


def test_a_211_session_keeps_its_evse_named_in_another_case():
    location = {
        "id": "LOC1",
        "country_code": "NL",
        "party_id": "EX1",
        "evses": [{"uid": "Evse-1", "connectors": []}, {"uid": "EVSE-2", "connectors": []}],
    }
    body = ocpi211._location_of_session_as_211(location, "EVSE-1")
    assert [evse["uid"] for evse in body["evses"]] == ["Evse-1"]


def test_a_session_is_the_start_command_s_that_named_its_token_in_another_case(rows):
    token = rows[PartyRole].partner.tokens.get()  # uid Tok-1
    box = ChargeBoxFactory(account=token.partner.account, charge_box_id="ACME-1")
    task = OperationTask.objects.create(
        account=box.account, action="RemoteStartTransaction", params={}, charge_box_ids=[box.charge_box_id]
    )
    command = ReceivedCommand.objects.create(
        partner=token.partner, command=CommandType.START_SESSION, data={"token": {"uid": "TOK-1"}}, response="ACCEPTED",
        result=CommandResultType.ACCEPTED, operation_task=task, finished_at=timezone.now(),
    )  # fmt: skip
    transaction = TransactionFactory(charge_box=box, started_at=timezone.now())
    assert _start_command(transaction, token) == command
