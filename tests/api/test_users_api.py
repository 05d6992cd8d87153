import pytest

from ocpp_core.models import OcppTag, User

from ..factories import OcppTagFactory, UserFactory
from .crud import CrudContract, assert_api_error


class TestUsersApi(CrudContract):
    url = "/api/v1/users"
    pk_field = "userPk"
    model = User
    create_body = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+44 20 1234"}
    update_body = {"firstName": "Ada", "lastName": "King", "email": "ada.king@example.com", "note": "married"}
    invalid_bodies = [
        ({"email": "not-an-email"}, "email"),
        ({"firstName": "x" * 101}, "firstName"),
        ({"ocppTagPks": [999_999]}, "ocppTagPks"),
        ({"ocppTagPks": "1"}, "ocppTagPks"),
    ]

    def make(self, account):
        return UserFactory(account=account)


@pytest.mark.django_db
class TestUserTags:
    def test_a_user_holds_tags_and_taking_one_moves_it(self, api, account):
        tag_a, tag_b = OcppTagFactory(account=account), OcppTagFactory(account=account)
        first = api.post("/api/v1/users", {"firstName": "A", "ocppTagPks": [tag_a.pk, tag_b.pk]}, format="json").json()
        assert sorted(first["ocppTagPks"]) == sorted([tag_a.pk, tag_b.pk])
        second = api.post("/api/v1/users", {"firstName": "B", "ocppTagPks": [tag_b.pk]}, format="json").json()
        assert second["ocppTagPks"] == [tag_b.pk]
        assert api.get(f"/api/v1/users/{first['userPk']}").json()["ocppTagPks"] == [tag_a.pk]

    def test_put_without_tags_keeps_them_and_with_tags_replaces_them(self, api, account):
        user = UserFactory(account=account)
        tag_a, tag_b = OcppTagFactory(account=account, user=user), OcppTagFactory(account=account)
        assert api.put(f"/api/v1/users/{user.pk}", {"firstName": "X"}, format="json").json()["ocppTagPks"] == [tag_a.pk]
        body = api.put(f"/api/v1/users/{user.pk}", {"ocppTagPks": [tag_b.pk]}, format="json").json()
        assert body["ocppTagPks"] == [tag_b.pk]

    def test_another_accounts_tag_is_unknown(self, api, other_account):
        theirs = OcppTagFactory(account=other_account)
        response = api.post("/api/v1/users", {"firstName": "A", "ocppTagPks": [theirs.pk]}, format="json")
        assert_api_error(response, 400, "ocppTagPks")

    def test_deleting_a_user_keeps_their_tags(self, api, account):
        user = UserFactory(account=account)
        tag = OcppTagFactory(account=account, user=user)
        assert api.delete(f"/api/v1/users/{user.pk}").status_code == 204
        assert OcppTag.objects.get(pk=tag.pk).user is None
