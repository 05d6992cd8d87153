import pytest

from ocpp_core.models import OcppTagGroup
from permissions.models import OcppTagGroupPermission

from ..factories import OcppTagFactory, OcppTagGroupFactory, OcppTagGroupPermissionFactory
from .crud import CrudContract, assert_api_error


class TestOcppTagGroupsApi(CrudContract):
    url = "/api/v1/ocppTagGroups"
    pk_field = "ocppTagGroupPk"
    model = OcppTagGroup
    create_body = {"name": "Floor 3 residents"}
    invalid_bodies = [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "G", "ocppTagPks": [999_999]}, "ocppTagPks"),
    ]

    def make(self, account):
        return OcppTagGroupFactory(account=account)


@pytest.mark.django_db
class TestOcppTagGroupMembers:
    def test_create_with_tags_answers_the_documented_shape(self, api, account):
        tags = [OcppTagFactory(account=account) for _ in range(2)]
        response = api.post("/api/v1/ocppTagGroups", {"name": "G", "ocppTagPks": [t.pk for t in tags]}, format="json")
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"ocppTagGroupPk", "name", "ocppTagPks"}
        assert sorted(body["ocppTagPks"]) == sorted(t.pk for t in tags)

    def test_a_duplicate_name_is_a_400(self, api, account):
        OcppTagGroupFactory(account=account, name="Residents")
        assert_api_error(api.post("/api/v1/ocppTagGroups", {"name": "Residents"}, format="json"), 400, "name")

    def test_add_and_delete_are_idempotent(self, api, account):
        group = OcppTagGroupFactory(account=account)
        tag_a, tag_b = OcppTagFactory(account=account, id_tag="A"), OcppTagFactory(account=account, id_tag="B")
        url = f"/api/v1/ocppTagGroups/{group.pk}/ocppTags"
        for _ in range(2):
            response = api.put(f"{url}/add", {"ocppTagPks": [tag_a.pk, tag_b.pk]}, format="json")
            assert response.status_code == 200
            assert sorted(t["idTag"] for t in response.json()) == ["A", "B"]
        for _ in range(2):
            response = api.put(f"{url}/delete", {"ocppTagPks": [tag_a.pk]}, format="json")
            assert [t["idTag"] for t in response.json()] == ["B"]
        assert [t["idTag"] for t in api.get(url).json()] == ["B"]

    def test_adding_an_unknown_or_foreign_tag_changes_nothing(self, api, account, other_account):
        group = OcppTagGroupFactory(account=account)
        mine, theirs = OcppTagFactory(account=account), OcppTagFactory(account=other_account)
        response = api.put(
            f"/api/v1/ocppTagGroups/{group.pk}/ocppTags/add", {"ocppTagPks": [mine.pk, theirs.pk]}, format="json"
        )
        assert_api_error(response, 400, "ocppTagPks")
        assert not group.ocpp_tags.exists()

    def test_members_of_another_accounts_group_are_404(self, api, other_account):
        theirs = OcppTagGroupFactory(account=other_account)
        assert_api_error(api.get(f"/api/v1/ocppTagGroups/{theirs.pk}/ocppTags"), 404)

    def test_deleting_a_group_drops_its_permissions_and_keeps_its_tags(self, api, account):
        tag = OcppTagFactory(account=account)
        group = OcppTagGroupFactory(account=account, ocpp_tags=[tag])
        OcppTagGroupPermissionFactory(ocpp_tag_group=group)
        assert api.delete(f"/api/v1/ocppTagGroups/{group.pk}").status_code == 204
        assert not OcppTagGroupPermission.objects.exists()
        tag.refresh_from_db()
