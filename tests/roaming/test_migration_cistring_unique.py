"""Migration 0013 makes OCPI ids (CiStrings) unique ignoring case. Rows the case-sensitive code before could store
in two spellings are settled first: a partner's data keeps its most recently updated row (the OCPP tag of a token
staying usable), the operator's own locations and tariffs stop the migration with what to rename. Run with the
migration executor against the real database, from the schema of 0012."""

from datetime import UTC, datetime

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ocpp_core.models import OcppTag
from tests.factories import AccountFactory, NodeFactory, OcppTagFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("roaming", "0012_partner_token_last_authorization")]
MIGRATION = [("roaming", "0013_cistring_unique_ignoring_case")]
EARLY, LATE = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def old_schema():
    """The database at 0012; back at every app's latest migration afterwards. Yields the historical models."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    yield apps
    for model_name in ("Location", "Tariff"):  # what a refused migration left, so that it can run now
        apps.get_model("roaming", model_name).objects.all().delete()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate_to_0013():
    executor = MigrationExecutor(connection)
    executor.migrate(MIGRATION)
    return MigrationExecutor(connection).loader.project_state(MIGRATION).apps


def partner_of(apps, account, name):
    return apps.get_model("roaming", "Party").objects.create(
        account_id=account.pk, name=name, state="REGISTERED", version="2.2.1"
    )


def test_a_partners_rows_differing_only_in_case_are_merged_keeping_the_newest(old_schema):
    apps = old_schema
    account = AccountFactory()
    partner = partner_of(apps, account, "Partner")
    other = partner_of(apps, account, "Other partner")
    PartyRole = apps.get_model("roaming", "PartyRole")
    PartnerLocation = apps.get_model("roaming", "PartnerLocation")
    PartnerObject = apps.get_model("roaming", "PartnerObject")
    PartnerToken = apps.get_model("roaming", "PartnerToken")
    for country_code, party_id in (("nl", "ex1"), ("NL", "EX1")):
        PartyRole.objects.create(
            partner_id=partner.pk, role="CPO", country_code=country_code, party_id=party_id, business_details={}
        )
    PartyRole.objects.create(partner_id=other.pk, role="CPO", country_code="NL", party_id="EX1", business_details={})
    PartyRole.objects.create(partner_id=partner.pk, role="EMSP", country_code="NL", party_id="EX1", business_details={})
    for ocpi_id, when in (("loc-1", LATE), ("LOC-1", EARLY), ("Loc-1", EARLY)):
        PartnerLocation.objects.create(
            partner_id=partner.pk, country_code="NL", party_id="EX1", ocpi_id=ocpi_id, data={"id": ocpi_id},
            last_updated=when,
        )  # fmt: skip
    PartnerLocation.objects.create(
        partner_id=partner.pk, country_code="NL", party_id="EX1", ocpi_id="loc-2", data={}, last_updated=EARLY
    )
    for ocpi_id, when in (("s-1", EARLY), ("S-1", LATE)):
        PartnerObject.objects.create(
            partner_id=partner.pk, module="sessions", country_code="NL", party_id="EX1", ocpi_id=ocpi_id,
            data={"id": ocpi_id}, last_updated=when,
        )  # fmt: skip
    PartnerObject.objects.create(
        partner_id=partner.pk, module="cdrs", country_code="NL", party_id="EX1", ocpi_id="s-1", data={},
        last_updated=EARLY,
    )  # fmt: skip
    # The older spelling got the OCPP tag; the newer one could not (its tag was taken): the kept token takes it over.
    tag_of_older = OcppTagFactory(account=account, id_tag="tok1", max_active_transaction_count=0)
    token = {"partner_id": partner.pk, "country_code": "NL", "party_id": "EX1", "type": "RFID", "contract_id": "C"}
    PartnerToken.objects.create(
        **token, uid="tok1", valid=False, whitelist="ALLOWED", data={}, last_updated=EARLY,
        ocpp_tag_id=tag_of_older.pk,
    )  # fmt: skip
    PartnerToken.objects.create(
        **token, uid="TOK1", valid=True, whitelist="ALLOWED", data={}, last_updated=LATE, problem="tag taken"
    )
    # Both spellings with a tag: the dropped one's tag is blocked, not left to charge.
    tag_kept = OcppTagFactory(account=account, id_tag="tok2", max_active_transaction_count=-1)
    tag_dropped = OcppTagFactory(account=account, id_tag="t2", max_active_transaction_count=-1)
    PartnerToken.objects.create(
        **token, uid="tok2", valid=True, whitelist="ALLOWED", data={}, last_updated=LATE, ocpp_tag_id=tag_kept.pk
    )
    PartnerToken.objects.create(
        **token, uid="TOK2", valid=True, whitelist="ALLOWED", data={}, last_updated=EARLY,
        ocpp_tag_id=tag_dropped.pk,
    )  # fmt: skip

    apps = migrate_to_0013()

    PartyRole = apps.get_model("roaming", "PartyRole")
    roles = PartyRole.objects.filter(partner_id=partner.pk).order_by("role")
    assert [(r.role, r.country_code, r.party_id) for r in roles] == [("CPO", "NL", "EX1"), ("EMSP", "NL", "EX1")]
    assert PartyRole.objects.filter(partner_id=other.pk).count() == 1
    locations = apps.get_model("roaming", "PartnerLocation").objects.order_by("ocpi_id")
    assert [(loc.ocpi_id, loc.data) for loc in locations] == [("loc-1", {"id": "loc-1"}), ("loc-2", {})]
    objects = apps.get_model("roaming", "PartnerObject").objects.order_by("module")
    assert [(o.module, o.ocpi_id) for o in objects] == [("cdrs", "s-1"), ("sessions", "S-1")]
    tokens = {t.uid.upper(): t for t in apps.get_model("roaming", "PartnerToken").objects.all()}
    assert sorted(t.uid for t in tokens.values()) == ["TOK1", "tok2"]
    assert (tokens["TOK1"].ocpp_tag_id, tokens["TOK1"].problem) == (tag_of_older.pk, "")
    assert OcppTag.objects.get(pk=tag_of_older.pk).max_active_transaction_count == -1  # the kept token is valid
    assert tokens["TOK2"].ocpp_tag_id == tag_kept.pk
    assert OcppTag.objects.get(pk=tag_kept.pk).max_active_transaction_count == -1
    assert OcppTag.objects.get(pk=tag_dropped.pk).max_active_transaction_count == 0


@pytest.mark.parametrize("model_name", ["Location", "Tariff"])
def test_the_operators_ids_differing_only_in_case_stop_the_migration_and_nothing_is_deleted(old_schema, model_name):
    apps = old_schema
    account = AccountFactory()
    identity = apps.get_model("roaming", "OcpiIdentity").objects.create(
        account_id=account.pk, country_code="DE", party_id="ACM", name="Acme"
    )
    model = apps.get_model("roaming", model_name)
    for ocpi_id in ("f-1", "F-1", "f-2"):
        if model_name == "Location":
            model.objects.create(
                identity_id=identity.pk,
                node_id=NodeFactory(account=account).pk,
                ocpi_id=ocpi_id,
                latitude="52.0",
                longitude="4.0",
            )
        else:
            model.objects.create(identity_id=identity.pk, ocpi_id=ocpi_id, currency="EUR", elements=[])

    with pytest.raises(CommandError) as raised:
        migrate_to_0013()

    message = str(raised.value)
    assert f"DE*ACM: {model_name.lower()} ids 'f-1' (pk " in message and "'F-1' (pk " in message
    assert "'f-2'" not in message and "rename all but one" in message and "Nothing was changed" in message
    assert sorted(model.objects.values_list("ocpi_id", flat=True)) == ["F-1", "f-1", "f-2"]
    assert ("roaming", MIGRATION[0][1]) not in MigrationExecutor(connection).loader.applied_migrations
