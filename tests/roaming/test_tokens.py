"""Tokens: partner eMSPs push theirs to us as CPO (Receiver interface), where each becomes an OCPP tag of the
partner's tag group that the permission resolver judges like any other; partner CPOs read ours (Sender interface)
and ask about one in real time (authorize)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from ocpp.v16.enums import AuthorizationStatus

from ocpp_core.models import OcppTag
from ocpp_core.services.local_list import local_list_desired
from permissions.selectors import tag_authorization
from permissions.services import permission_grant
from roaming.choices import OcpiRole
from roaming.models import OutboxMessage, PartnerToken
from roaming.objects import AuthorizationInfoSerializer, TokenSerializer
from roaming.services.partner_tokens import stand_in_id_tag

from ..factories import (
    ChargeBoxFactory,
    NodeFactory,
    OcpiIdentityFactory,
    OcppTagFactory,
    PartyFactory,
    PartyRoleFactory,
)
from .clients import client_of
from .ocpi_examples import example

pytestmark = pytest.mark.django_db
TOKEN_EXAMPLES = ["token_example_1_app_user.json", "token_example_2_full_rfid.json", "token_put_example.json"]
BASE = "/ocpi/cpo/2.2.1/tokens"


@pytest.fixture
def emsp(account):
    """A partner that is the eMSP of every token in the examples (DE*TNM and NL*TNM)."""
    party = PartyFactory(account=account, name="New Motion")
    for country_code in ("DE", "NL"):
        PartyRoleFactory(partner=party, role=OcpiRole.EMSP, country_code=country_code, party_id="TNM")
    return client_of(party)


def url_of(token: dict) -> str:
    return f"{BASE}/{token['country_code']}/{token['party_id']}/{token['uid']}?type={token['type']}"


@pytest.mark.parametrize("name", TOKEN_EXAMPLES)
def test_every_token_example_is_accepted_read_back_and_mirrored_as_a_tag_of_the_partners_group(emsp, name):
    token = example(name)
    response = emsp.put(url_of(token), token, format="json")
    assert response.status_code == 200, response.json()
    assert emsp.get(url_of(token)).json()["data"] == token

    stored = PartnerToken.objects.get()
    emsp.party.refresh_from_db()
    assert stored.ocpp_tag.id_tag == stand_in_id_tag(token["country_code"], token["party_id"], token["uid"])
    assert list(stored.ocpp_tag.groups.all()) == [emsp.party.token_group]
    assert stored.ocpp_tag.max_active_transaction_count == -1 and stored.problem == ""


def test_a_uuid_app_token_gets_a_stable_20_character_stand_in(emsp):
    token = example("token_example_1_app_user.json")  # uid: a 36-character UUID
    emsp.put(url_of(token), token, format="json")
    tag = PartnerToken.objects.get().ocpp_tag
    assert len(tag.id_tag) == 20 and tag.id_tag == stand_in_id_tag("DE", "TNM", token["uid"])
    assert stand_in_id_tag("DE", "TNM", "12345678905880") == "12345678905880"  # an RFID uid is the idTag itself


def test_the_patch_example_blocks_the_token_and_its_tag(emsp):
    token = example("token_put_example.json")
    emsp.put(url_of(token), token, format="json")
    patch = example("token_patch_example.json")  # valid: false
    assert emsp.patch(url_of(token), patch, format="json").status_code == 200

    stored = PartnerToken.objects.get()
    assert stored.valid is False and stored.data["last_updated"] == patch["last_updated"]
    assert stored.ocpp_tag.blocked


def test_a_foreign_token_charges_only_where_the_partners_group_is_granted(emsp, account):
    token = example("token_put_example.json")
    emsp.put(url_of(token), token, format="json")
    site, elsewhere = NodeFactory(account=account), NodeFactory(account=account)
    here = ChargeBoxFactory(account=account, node=site)
    there = ChargeBoxFactory(account=account, node=elsewhere)
    emsp.party.refresh_from_db()
    permission_grant(holder=emsp.party.token_group, node=site)

    assert tag_authorization(id_tag=token["uid"], charge_box=here).status == AuthorizationStatus.accepted
    assert tag_authorization(id_tag=token["uid"], charge_box=there).status == AuthorizationStatus.invalid

    emsp.patch(url_of(token), example("token_patch_example.json"), format="json")
    assert tag_authorization(id_tag=token["uid"], charge_box=here).status == AuthorizationStatus.blocked


def test_an_older_token_does_not_replace_a_newer_one(emsp):
    token = example("token_put_example.json")
    emsp.put(url_of(token), {**token, "last_updated": "2020-01-01T00:00:00Z"}, format="json")
    emsp.put(url_of(token), {**token, "valid": False}, format="json")  # last_updated 2015: older
    assert PartnerToken.objects.get().valid is True


def test_a_token_of_another_party_is_refused_and_nothing_is_stored(emsp):
    token = {**example("token_put_example.json"), "country_code": "FR", "party_id": "XYZ"}
    response = emsp.put(url_of(token), token, format="json")
    assert response.status_code == 403 and "FR*XYZ" in response.json()["status_message"]
    assert not PartnerToken.objects.exists() and not OcppTag.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contract_id": None}, "contract_id"),
        ({"whitelist": "SOMETIMES"}, "whitelist"),
        ({"issuer": "x" * 65}, "issuer"),
        ({"type": "PASSPORT"}, "type"),
    ],
)
def test_an_invalid_token_is_refused_with_2001_naming_the_field(emsp, change, field):
    token = {key: value for key, value in {**example("token_put_example.json"), **change}.items() if value is not None}
    response = emsp.put(f"{BASE}/NL/TNM/012345678", token, format="json")
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001 and response.json()["status_message"].startswith(
        f"Invalid token: {field}"
    )
    assert not PartnerToken.objects.exists()


def test_a_token_whose_id_tag_is_taken_by_an_own_card_is_stored_but_not_usable(emsp, account):
    own = OcppTagFactory(account=account, id_tag="012345678")
    token = example("token_put_example.json")
    emsp.put(url_of(token), token, format="json")
    stored = PartnerToken.objects.get()
    assert stored.ocpp_tag is None and "exists already" in stored.problem
    own.refresh_from_db()
    assert own.max_active_transaction_count == 1 and not own.groups.exists()


def test_an_unknown_token_is_404_with_2004(emsp):
    response = emsp.get(f"{BASE}/NL/TNM/nope?type=RFID")
    assert response.status_code == 404 and response.json()["status_code"] == 2004
    patch = {"valid": False, "last_updated": "2026-01-01T00:00:00Z"}
    response = emsp.patch(f"{BASE}/NL/TNM/nope", patch, format="json")
    assert response.status_code == 404 and response.json()["status_code"] == 2004


# We are the eMSP: a partner CPO reads our tokens and asks about one in real time.


@pytest.fixture
def cpo(account):
    OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM", name="Acme Mobility")
    party = PartyFactory(account=account, name="Charging Co")
    return client_of(party)


def test_our_tags_are_offered_as_valid_rfid_tokens_but_not_the_partners_tokens(cpo, account, emsp):
    card = OcppTagFactory(account=account, id_tag="CARD1")
    OcppTagFactory(account=account, id_tag="FLEETCHILD", parent=card)
    OcppTagFactory(account=account, id_tag="BLOCKED1", max_active_transaction_count=0)
    token = example("token_put_example.json")
    emsp.put(url_of(token), token, format="json")  # mirrored as tag 012345678: not ours to offer

    response = cpo.get("/ocpi/emsp/2.2.1/tokens")
    tokens = {t["uid"]: t for t in response.json()["data"]}
    assert response.status_code == 200 and response["X-Total-Count"] == "3"
    assert set(tokens) == {"CARD1", "FLEETCHILD", "BLOCKED1"}
    for body in tokens.values():
        serializer = TokenSerializer(data=body)
        assert serializer.is_valid(), serializer.errors
    assert tokens["CARD1"]["contract_id"] == "DE-ACM-CCARD1" and tokens["CARD1"]["issuer"] == "Acme Mobility"
    assert tokens["FLEETCHILD"]["group_id"] == "CARD1"
    assert tokens["BLOCKED1"]["valid"] is False


def test_real_time_authorization_of_our_tokens(cpo, account):
    OcppTagFactory(account=account, id_tag="CARD1")
    OcppTagFactory(account=account, id_tag="BLOCKED1", max_active_transaction_count=0)
    OcppTagFactory(account=account, id_tag="OLD1", expiry_date=timezone.now() - timedelta(days=1))
    where = {"location_id": "LOC1", "evse_uids": ["3256"]}

    def ask(uid, body=None):
        return cpo.post(f"/ocpi/emsp/2.2.1/tokens/{uid}/authorize?type=RFID", body, format="json")

    allowed = ask("card1", where).json()["data"]  # idTags compare case-insensitively
    assert AuthorizationInfoSerializer(data=allowed).is_valid()
    assert allowed["allowed"] == "ALLOWED" and allowed["location"] == where and allowed["authorization_reference"]
    assert ask("BLOCKED1").json()["data"]["allowed"] == "BLOCKED"
    assert ask("OLD1").json()["data"]["allowed"] == "EXPIRED"
    unknown = ask("NOPE")
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004
    bad = ask("CARD1", {"evse_uids": ["1"]})
    assert bad.status_code == 400 and "location_id" in bad.json()["status_message"]


# We are the eMSP: a change to one of our tags is pushed to partner CPOs.


def test_a_change_to_our_tag_is_queued_for_partner_cpos_and_a_partners_token_is_not(account, emsp):
    OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM", name="Acme Mobility")
    receiver = "https://cpo.example/ocpi/cpo/2.2.1/tokens"
    PartyFactory(account=account, endpoints=[{"identifier": "tokens", "role": "RECEIVER", "url": receiver}])
    pushed = OutboxMessage.objects.filter(key="tokens:DE:ACM:CARD9").order_by("pk")

    card = OcppTagFactory(account=account, id_tag="CARD9")
    card.max_active_transaction_count = 0
    card.save()
    card.delete()

    assert [(m.method, m.url, m.body["valid"]) for m in pushed] == [
        ("PUT", f"{receiver}/DE/ACM/CARD9?type=RFID", True),
        ("PUT", f"{receiver}/DE/ACM/CARD9?type=RFID", False),  # blocked
        ("PUT", f"{receiver}/DE/ACM/CARD9?type=RFID", False),  # deleted: no longer valid
    ]
    assert all(TokenSerializer(data=m.body).is_valid() for m in pushed)

    token = example("token_put_example.json")
    emsp.put(url_of(token), token, format="json")  # mirrored as an OCPP tag of ours, but the partner's token
    emsp.patch(url_of(token), example("token_patch_example.json"), format="json")
    PartnerToken.objects.get().ocpp_tag.delete()
    assert not OutboxMessage.objects.filter(key__contains="012345678").exists()


def test_only_a_cpo_partner_reads_our_tokens_or_asks_about_one(account):
    OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM", name="Acme Mobility")
    OcppTagFactory(account=account, id_tag="CARD1")
    only_emsp = PartyFactory(account=account, name="Only eMSP", role=None)
    PartyRoleFactory(partner=only_emsp, role=OcpiRole.EMSP, country_code="NL", party_id="EMS")
    emsp = client_of(only_emsp)
    listed = emsp.get("/ocpi/emsp/2.2.1/tokens")  # a partner that is only an eMSP: our customers are none of its
    assert listed.status_code == 403 and "Only a CPO" in listed.json()["status_message"]
    asked = emsp.post("/ocpi/emsp/2.2.1/tokens/CARD1/authorize", {}, format="json")
    assert asked.status_code == 403


def test_a_token_its_emsp_wants_asked_every_time_stays_out_of_chargers_local_lists(emsp, account):
    never = {**example("token_put_example.json"), "uid": "NEVER1", "whitelist": "NEVER"}
    always = {**example("token_put_example.json"), "uid": "ALWAYS1", "whitelist": "ALWAYS"}
    for token in (never, always):
        emsp.put(url_of(token), token, format="json")
    site = NodeFactory(account=account)
    box = ChargeBoxFactory(account=account, node=site)
    emsp.party.refresh_from_db()
    permission_grant(holder=emsp.party.token_group, node=site)
    assert set(local_list_desired(charge_box=box)) == {"ALWAYS1"}
