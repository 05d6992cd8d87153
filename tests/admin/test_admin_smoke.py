"""Every ModelAdmin: its changelist, add and change pages answer, with search and filters; searching for an object
finds it; and a changelist costs the same number of queries for 3 objects as for 13 (no N+1), for a superuser and
for a staff operator."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from powerfill.accounts.admin import SuperuserOnlyAdmin

from .conftest import MAKERS, make

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)
# Written by chargers or by the central system, never added by hand.
ADDED_ONLY_BY_CHARGERS = {
    "ocpp_core.transaction",
    "ocpp_core.connectorstatus",
    "ocpp_core.unknownchargebox",
    "ocpp_core.reservation",
    "ocpp_core.ocppmessage",
    "ocpp_core.chargerevent",
    "ocpp_core.operationtask",
    "ocpp_core.localauthlistentry",
    "ocpp_core.installedcertificate",
    "priority.prioritychange",
    "priority.allocationrun",
    "roaming.partnerlocation",
    "roaming.partnertoken",
    "roaming.cdr",
    "roaming.partnerobject",
    "roaming.receivedcommand",
    "roaming.sentcommand",
    "roaming.sentchargingprofile",
    "roaming.outboxmessage",
}
OURS = [(model, model_admin) for model, model_admin in REGISTERED if model._meta.label_lower in MAKERS]


def test_every_model_admin_of_ours_is_covered():
    ours = {m._meta.label_lower for m, _ in REGISTERED if m._meta.app_label not in ("auth",)}
    assert ours == set(MAKERS)


def search_term(model_admin, obj) -> str:
    """The object's value of the first search field it has one for: searching for it must find the object."""
    for search_field in model_admin.search_fields:
        value = obj
        for name in search_field.lstrip("=^@").split("__"):
            value = getattr(value, name, None)
        if value not in (None, ""):
            return str(value)
    raise AssertionError(f"{obj!r} has a value for none of {model_admin.search_fields}")


def _ids(items):
    return [model._meta.label_lower for model, _ in items]


@pytest.mark.parametrize(("model", "model_admin"), OURS, ids=_ids(OURS))
def test_every_changelist_has_search_and_filters(model, model_admin):
    assert model_admin.search_fields, model
    assert model_admin.list_filter, model


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), OURS, ids=_ids(OURS))
class TestAdminPages:
    def url(self, model, view, *args):
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)

    def test_changelist_and_search(self, superuser_client, model, model_admin):
        obj = make(model._meta.label_lower)
        changelist = self.url(model, "changelist")
        assert superuser_client.get(changelist).status_code == 200
        found = superuser_client.get(changelist, {"q": search_term(model_admin, obj)})
        assert found.status_code == 200
        assert self.url(model, "change", obj.pk) in found.content.decode()
        assert obj in found.context["cl"].result_list
        nothing = superuser_client.get(changelist, {"q": "no-such-thing-anywhere"})
        assert self.url(model, "change", obj.pk) not in nothing.content.decode()

    def test_add_page(self, superuser_client, model, model_admin):
        expected = 403 if model._meta.label_lower in ADDED_ONLY_BY_CHARGERS else 200
        assert superuser_client.get(self.url(model, "add")).status_code == expected

    def test_change_page(self, superuser_client, model, model_admin):
        obj = make(model._meta.label_lower)
        response = superuser_client.get(self.url(model, "change", obj.pk))
        assert response.status_code == 200

    @pytest.mark.parametrize("login", ["superuser", "operator"])
    def test_changelist_queries_do_not_grow_with_rows(self, request, login, account, model, model_admin):
        if login == "operator" and isinstance(model_admin, SuperuserOnlyAdmin):
            pytest.skip("a staff operator does not see accounts and logins")
        client = request.getfixturevalue(f"{login}_client")
        # The operator's rows in their own account; the superuser's spread over accounts, as they see them.
        owner = account if login == "operator" else None

        def changelist_queries_and_rows():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(self.url(model, "changelist"))
            assert response.status_code == 200
            return len(queries), response.context["cl"].result_count

        for _ in range(3):
            make(model._meta.label_lower, owner)
        queries, rows = changelist_queries_and_rows()
        for _ in range(10):
            make(model._meta.label_lower, owner)
        assert changelist_queries_and_rows() == (queries, rows + 10)
