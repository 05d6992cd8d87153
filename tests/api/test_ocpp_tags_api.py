from datetime import timedelta

import pytest
from django.utils import timezone

from ocpp_core.models import OcppTag

from ..factories import OcppTagFactory, TransactionFactory, UserFactory
from .crud import CrudContract, assert_api_error

FUTURE = "2035-08-25T14:30:00Z"


class TestOcppTagsApi(CrudContract):
    url = "/api/v1/ocppTags"
    pk_field = "ocppTagPk"
    model = OcppTag
    create_body = {"idTag": "04A2B3C4D5", "note": "Fleet car 7", "expiryDate": FUTURE, "maxActiveTransactionCount": 2}
    update_body = {"note": "Fleet car 8", "maxActiveTransactionCount": -1, "expiryDate": None}
    deletes_with_body = True
    invalid_bodies = [
        ({}, "idTag"),
        ({"idTag": ""}, "idTag"),
        ({"idTag": "x" * 21}, "idTag"),
        ({"idTag": "has space"}, "idTag"),
        ({"idTag": "T1", "expiryDate": "2001-01-01T00:00:00Z"}, "expiryDate"),
        ({"idTag": "T1", "expiryDate": "not a date"}, "expiryDate"),
        ({"idTag": "T1", "maxActiveTransactionCount": -2}, "maxActiveTransactionCount"),
        ({"idTag": "T1", "parentIdTag": "NO-SUCH-TAG"}, "parentIdTag"),
        ({"idTag": "T1", "userPk": 999_999}, "userPk"),
    ]

    def make(self, account):
        return OcppTagFactory(account=account)


@pytest.mark.django_db
class TestOcppTagSteveBehaviour:
    def test_it_answers_steves_overview(self, api, account):
        parent = OcppTagFactory(account=account, id_tag="FLEET")
        user = UserFactory(account=account)
        tag = OcppTagFactory(account=account, id_tag="CAR-1", parent=parent, user=user, note="n")
        TransactionFactory(charge_box__account=account, ocpp_tag=tag)
        body = api.get(f"/api/v1/ocppTags/{tag.pk}").json()
        assert body == {
            "ocppTagPk": tag.pk,
            "idTag": "CAR-1",
            "parentOcppTagPk": parent.pk,
            "parentIdTag": "FLEET",
            "userPk": user.pk,
            "expiryDate": None,
            "maxActiveTransactionCount": 1,
            "blocked": False,
            "inTransaction": True,
            "activeTransactionCount": 1,
            "note": "n",
        }

    def test_it_refuses_a_duplicate_id_tag_case_insensitively(self, api, account):
        OcppTagFactory(account=account, id_tag="04A2B3")
        before = OcppTag.objects.count()
        assert_api_error(api.post("/api/v1/ocppTags", {"idTag": "04a2b3"}, format="json"), 400, "idTag")
        assert OcppTag.objects.count() == before

    def test_the_same_id_tag_may_exist_in_another_account(self, api, other_account):
        OcppTagFactory(account=other_account, id_tag="04A2B3")
        assert api.post("/api/v1/ocppTags", {"idTag": "04A2B3"}, format="json").status_code == 201

    def test_update_replaces_the_form_and_keeps_the_id_tag(self, api, account):
        parent = OcppTagFactory(account=account, id_tag="PARENT")
        tag = OcppTagFactory(account=account, id_tag="KEEP", note="old", max_active_transaction_count=3, parent=parent)
        response = api.put(f"/api/v1/ocppTags/{tag.pk}", {"idTag": "IGNORED", "note": "new"}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert (body["idTag"], body["note"], body["maxActiveTransactionCount"], body["parentIdTag"]) == (
            "KEEP",
            "new",
            1,
            None,
        )

    def test_parent_tags_cannot_loop(self, api, account):
        top = OcppTagFactory(account=account, id_tag="TOP")
        middle = OcppTagFactory(account=account, id_tag="MIDDLE", parent=top)
        OcppTagFactory(account=account, id_tag="BOTTOM", parent=middle)
        assert_api_error(api.put(f"/api/v1/ocppTags/{top.pk}", {"parentIdTag": "BOTTOM"}, format="json"), 400)
        top.refresh_from_db()
        assert top.parent is None

    def test_a_count_beyond_32_bits_is_a_400(self, api, account):
        body = {"idTag": "BIG", "maxActiveTransactionCount": 2**40}
        assert_api_error(api.post("/api/v1/ocppTags", body, format="json"), 400, "maxActiveTransactionCount")

    def test_expire_sets_the_expiry_to_now(self, api, account):
        tag = OcppTagFactory(account=account, expiry_date=timezone.now() + timedelta(days=30))
        before = timezone.now()
        response = api.patch(f"/api/v1/ocppTags/{tag.pk}/expire")
        assert response.status_code == 200
        tag.refresh_from_db()
        assert before <= tag.expiry_date <= timezone.now()
        assert api.get("/api/v1/ocppTags", {"expired": "TRUE"}).json()[0]["ocppTagPk"] == tag.pk

    def test_delete_answers_the_deleted_tag(self, api, account):
        tag = OcppTagFactory(account=account, id_tag="GONE")
        response = api.delete(f"/api/v1/ocppTags/{tag.pk}")
        assert response.json()["idTag"] == "GONE"

    def test_patch_other_than_expire_is_not_allowed(self, api, account):
        tag = OcppTagFactory(account=account)
        assert_api_error(api.patch(f"/api/v1/ocppTags/{tag.pk}", {"note": "x"}, format="json"), 405)


@pytest.mark.django_db
class TestOcppTagFilters:
    @pytest.fixture
    def tags(self, account):
        now = timezone.now()
        user = UserFactory(account=account)
        parent = OcppTagFactory(account=account, id_tag="PARENT", note="the fleet card")
        tags = {
            "plain": OcppTagFactory(account=account, id_tag="PLAIN"),
            "blocked": OcppTagFactory(account=account, id_tag="BLOCKED", max_active_transaction_count=0),
            "expired": OcppTagFactory(account=account, id_tag="EXPIRED", expiry_date=now - timedelta(days=1)),
            "charging": OcppTagFactory(account=account, id_tag="CHARGING", parent=parent, user=user),
            "parent": parent,
        }
        TransactionFactory(charge_box__account=account, ocpp_tag=tags["charging"])
        TransactionFactory(
            charge_box__account=account, ocpp_tag=tags["plain"], stopped_at=now, meter_stop=2000
        )  # finished: does not count
        return tags

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, {"PLAIN", "BLOCKED", "EXPIRED", "CHARGING", "PARENT"}),
            ({"idTag": "plain"}, {"PLAIN"}),
            ({"parentIdTag": "PARENT"}, {"CHARGING"}),
            ({"expired": "TRUE"}, {"EXPIRED"}),
            ({"expired": "FALSE"}, {"PLAIN", "BLOCKED", "CHARGING", "PARENT"}),
            ({"inTransaction": "TRUE"}, {"CHARGING"}),
            ({"inTransaction": "FALSE", "blocked": "FALSE", "expired": "FALSE"}, {"PLAIN", "PARENT"}),
            ({"blocked": "TRUE"}, {"BLOCKED"}),
            ({"blocked": "ALL"}, {"PLAIN", "BLOCKED", "EXPIRED", "CHARGING", "PARENT"}),
            ({"note": "FLEET"}, {"PARENT"}),
            ({"userFilter": "OnlyTagsWithUser"}, {"CHARGING"}),
            ({"userFilter": "OnlyTagsWithoutUser"}, {"PLAIN", "BLOCKED", "EXPIRED", "PARENT"}),
        ],
    )
    def test_it_filters_like_steve(self, api, tags, query, expected):
        response = api.get("/api/v1/ocppTags", query)
        assert response.status_code == 200
        assert {tag["idTag"] for tag in response.json()} == expected

    def test_it_filters_by_pk_and_user(self, api, tags):
        charging = tags["charging"]
        assert [t["idTag"] for t in api.get("/api/v1/ocppTags", {"ocppTagPk": charging.pk}).json()] == ["CHARGING"]
        assert [t["idTag"] for t in api.get("/api/v1/ocppTags", {"userId": charging.user_id}).json()] == ["CHARGING"]

    def test_numbers_beyond_32_bits_are_a_400(self, api, tags):
        assert_api_error(api.get("/api/v1/ocppTags", {"userId": "9" * 23}), 400, "userId")
        assert_api_error(api.get("/api/v1/ocppTags", {"ocppTagPk": "9" * 23}), 400, "ocppTagPk")

    def test_an_unknown_filter_value_is_a_400(self, api, tags):
        assert_api_error(api.get("/api/v1/ocppTags", {"blocked": "MAYBE"}), 400, "blocked")
