"""The contract every account-owned REST resource keeps, written once; each resource's test is mostly data.

A subclass names its URL, its primary-key field, a factory for an existing object, bodies for create and update
and invalid bodies with the field each must be rejected on. It then gets tests for listing, creating, reading,
updating, deleting, validation (400 with fieldErrors, nothing changed), tenancy (another account's object is 404)
and authentication (401).
"""

import pytest

ERROR_KEYS = {"status", "error", "message", "path", "timestamp"}


def assert_api_error(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body.keys() >= ERROR_KEYS, body
    assert body["status"] == status
    assert body["path"] == response.wsgi_request.path
    if field is not None:
        assert field in body["fieldErrors"], body
    return body


@pytest.mark.django_db
class CrudContract:
    url: str
    pk_field: str
    model: type
    create_body: dict
    update_body: dict | None = None  # None: the resource has no PUT
    invalid_bodies: list[tuple[dict, str]] = []
    deletes_with_body = False  # SteVe's ocppTags answer DELETE with the deleted object

    def make(self, account):
        raise NotImplementedError

    def create_body_for(self, account) -> dict:
        return self.create_body

    def update_body_for(self, account) -> dict:
        return self.update_body

    def detail_url(self, pk) -> str:
        return f"{self.url}/{pk}"

    def test_it_lists_only_the_accounts_own_objects(self, api, account, other_account):
        mine = self.make(account)
        self.make(other_account)
        response = api.get(self.url)
        assert response.status_code == 200
        assert [item[self.pk_field] for item in response.json()] == [mine.pk]

    def test_it_paginates_when_asked(self, api, account):
        for _ in range(3):
            self.make(account)
        response = api.get(self.url, {"pageSize": 2})
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 3
        assert len(body["results"]) == 2
        assert "page=2" in body["next"]

    def test_it_creates(self, api, account):
        response = api.post(self.url, self.create_body_for(account), format="json")
        assert response.status_code == 201, response.content
        created = self.model.objects.get(pk=response.json()[self.pk_field])
        assert api.get(self.detail_url(created.pk)).json() == response.json()

    def test_it_rejects_invalid_bodies_and_changes_nothing(self, api, account, subtests):
        for body, field in self.invalid_bodies:
            with subtests.test(field=field, body=body):
                body = {key: value(account) if callable(value) else value for key, value in body.items()}
                before = self.model.objects.count()
                assert_api_error(api.post(self.url, body, format="json"), 400, field)
                assert self.model.objects.count() == before

    def test_it_rejects_malformed_json(self, api):
        before = self.model.objects.count()
        response = api.generic("POST", self.url, "{not json", content_type="application/json")
        assert_api_error(response, 400)
        assert self.model.objects.count() == before

    def test_it_reads_one(self, api, account):
        obj = self.make(account)
        response = api.get(self.detail_url(obj.pk))
        assert response.status_code == 200
        assert response.json()[self.pk_field] == obj.pk

    def test_it_answers_404_for_another_accounts_object_as_if_absent(self, api, other_account):
        theirs = self.make(other_account)
        absent = assert_api_error(api.get(self.detail_url(theirs.pk + 10_000)), 404)
        foreign = assert_api_error(api.get(self.detail_url(theirs.pk)), 404)
        assert foreign["message"] == absent["message"]
        assert api.delete(self.detail_url(theirs.pk)).status_code == 404
        assert self.model.objects.filter(pk=theirs.pk).exists()

    def test_it_updates(self, api, account):
        if self.update_body is None:
            pytest.skip("no PUT on this resource")
        obj = self.make(account)
        response = api.put(self.detail_url(obj.pk), self.update_body_for(account), format="json")
        assert response.status_code == 200, response.content
        assert api.get(self.detail_url(obj.pk)).json() == response.json()
        self.assert_updated(response.json())

    def assert_updated(self, body: dict):
        for key, value in self.update_body.items():
            if not callable(value) and key in body:
                assert body[key] == value, key

    def test_it_refuses_to_update_another_accounts_object(self, api, other_account):
        if self.update_body is None:
            pytest.skip("no PUT on this resource")
        theirs = self.make(other_account)
        assert (
            api.put(self.detail_url(theirs.pk), self.update_body_for(other_account), format="json").status_code == 404
        )

    def test_it_deletes(self, api, account):
        obj = self.make(account)
        response = api.delete(self.detail_url(obj.pk))
        assert response.status_code == (200 if self.deletes_with_body else 204), response.content
        assert not self.model.objects.filter(pk=obj.pk).exists()
        assert api.get(self.detail_url(obj.pk)).status_code == 404

    def test_it_requires_authentication(self, client, account):
        obj = self.make(account)
        for response in (client.get(self.url), client.get(self.detail_url(obj.pk))):
            assert_api_error(response, 401)
        before = self.model.objects.count()
        assert_api_error(client.post(self.url, self.create_body_for(account), content_type="application/json"), 401)
        assert self.model.objects.count() == before
