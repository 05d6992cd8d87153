"""Tenancy in the admin: a staff operator's pages never show, offer or act on another account's objects.

The other account's objects are all named RIVAL-…, so any leak shows up as that text in a page."""

from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ocpp_core.models import ChargeBox, OcppTag, OperationTask, Transaction, UnknownChargeBox
from permissions.models import OcppTagGroupPermission, OcppTagPermission
from powerfill.accounts.admin import SuperuserOnlyAdmin
from powerfill.accounts.models import Account
from powerfill.accounts.services import api_token_create

from ..factories import (
    ChargeBoxFactory,
    ChargingProfileFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
    OperationTaskFactory,
    OperatorUserFactory,
    PriorityChangeFactory,
    ReservationFactory,
    TimeOfUseWindowFactory,
    TransactionFactory,
    UnknownChargeBoxFactory,
    UserFactory,
)
from .conftest import make
from .test_admin_smoke import ADDED_ONLY_BY_CHARGERS, OURS, REGISTERED
from .test_admin_workflows import NODE_INLINES, inline_management

RIVAL = "RIVAL-"
# What a staff operator may open: everything but the platform's accounts and logins.
TENANT_ADMINS = [(m, a) for m, a in OURS if not isinstance(a, SuperuserOnlyAdmin)]
ADDABLE = [(m, a) for m, a in TENANT_ADMINS if m._meta.label_lower not in ADDED_ONLY_BY_CHARGERS]
# Unknown chargers belong to no account: every operator sees them (and may adopt them).
OWNED = [(m, a) for m, a in TENANT_ADMINS if m is not UnknownChargeBox]


def url(model, view, *args, **kwargs):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args, kwargs=kwargs)


def _ids(items):
    return [model._meta.label_lower for model, _ in items]


@pytest.fixture
def rivals(other_account):
    """One of everything, in another account."""
    node = NodeFactory(account=other_account, name="RIVAL-NODE")
    box = ChargeBoxFactory(account=other_account, node=node, charge_box_id="RIVAL-CB")
    tag = OcppTagFactory(account=other_account, id_tag="RIVAL-TAG", note="theirs")
    group = OcppTagGroupFactory(account=other_account, name="RIVAL-GROUP", ocpp_tags=[tag])
    token, _ = api_token_create(account=other_account, name="RIVAL-TOKEN")
    return SimpleNamespace(
        account=other_account,
        node=node,
        charge_box=box,
        tag=tag,
        group=group,
        token=token,
        user=UserFactory(account=other_account, first_name="RIVAL-USER", last_name="RIVAL-USER"),
        profile=ChargingProfileFactory(account=other_account, description="RIVAL-PROFILE"),
        transaction=TransactionFactory(charge_box=box, ocpp_tag=tag),
        reservation=ReservationFactory(charge_box=box, ocpp_tag=tag),
        tag_permission=OcppTagPermissionFactory(ocpp_tag=tag, node=node),
        group_permission=OcppTagGroupPermissionFactory(ocpp_tag_group=group, node=node),
        task=OperationTaskFactory(account=other_account, requested_by="RIVAL-OPERATOR"),
        priority_change=PriorityChangeFactory(connector__charge_box=box, changed_by="RIVAL-OPERATOR"),
        time_of_use_window=TimeOfUseWindowFactory(node=node, name="RIVAL-WINDOW"),
    )


def assert_no_leak(response, rivals):
    assert response.status_code == 200, response
    page = response.content.decode()
    assert RIVAL not in page
    assert rivals.account.name not in page


def test_no_related_filter_lists_every_accounts_objects():
    """A plain related-field filter offers every row of the related model; an account's admin needs related-only."""
    for model, model_admin in REGISTERED:
        if isinstance(model_admin, SuperuserOnlyAdmin):
            continue
        for entry in model_admin.list_filter:
            if isinstance(entry, str):
                related = get_fields_from_path(model, entry)[-1].related_model
                owned = related is Account or (related and any(f.name == "account" for f in related._meta.fields))
                assert not owned, f"{model._meta.label}: list_filter {entry!r} lists every account's objects"
            elif isinstance(entry, tuple) and get_fields_from_path(model, entry[0])[-1].is_relation:
                assert issubclass(entry[1], admin.RelatedOnlyFieldListFilter), (model._meta.label, entry)


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
class TestNoPageShowsAnotherAccount:
    """Rows, filters, search, action forms, form choices, inlines: nothing of the other account anywhere."""

    def test_changelist(self, operator_client, account, rivals, model, model_admin):
        make(model._meta.label_lower, account)
        assert_no_leak(operator_client.get(url(model, "changelist")), rivals)
        assert_no_leak(operator_client.get(url(model, "changelist"), {"q": "RIVAL"}), rivals)

    def test_change_page(self, operator_client, account, rivals, model, model_admin):
        obj = make(model._meta.label_lower, account)
        assert_no_leak(operator_client.get(url(model, "change", obj.pk)), rivals)


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), ADDABLE, ids=_ids(ADDABLE))
def test_no_add_page_shows_another_account(operator_client, rivals, model, model_admin):
    assert_no_leak(operator_client.get(url(model, "add")), rivals)


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), OWNED, ids=_ids(OWNED))
def test_bulk_delete_of_another_accounts_object_deletes_nothing(operator_client, other_account, model, model_admin):
    theirs = make(model._meta.label_lower, other_account)
    response = operator_client.post(
        url(model, "changelist"), {"action": "delete_selected", "_selected_action": [theirs.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert model.objects.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
class TestChangelistFilters:
    def test_the_transactions_charge_box_filter_offers_only_the_operators_stations(
        self, operator_client, account, rivals
    ):
        for charge_box_id in ("OUR-CB", "OUR-OTHER-CB"):  # a filter with one choice is not shown
            TransactionFactory(charge_box=ChargeBoxFactory(account=account, charge_box_id=charge_box_id))
        page = operator_client.get(url(Transaction, "changelist")).content.decode()
        assert f"charge_box__id__exact={rivals.charge_box.pk}" not in page and "RIVAL-CB" not in page
        assert "OUR-CB" in page[page.index('id="changelist-filter"') :]

    def test_the_tags_group_filter_offers_only_the_operators_groups(self, operator_client, account, rivals):
        for name in ("OUR-GROUP", "OUR-OTHER-GROUP"):
            OcppTagGroupFactory(account=account, name=name, ocpp_tags=[OcppTagFactory(account=account)])
        page = operator_client.get(url(OcppTag, "changelist")).content.decode()
        assert f"groups__id__exact={rivals.group.pk}" not in page and "RIVAL-GROUP" not in page
        assert "OUR-GROUP" in page[page.index('id="changelist-filter"') :]

    def test_a_superuser_filters_by_every_accounts_stations_and_groups(self, superuser_client, account, rivals):
        TransactionFactory(charge_box=ChargeBoxFactory(account=account, charge_box_id="OUR-CB"))
        OcppTagGroupFactory(account=account, name="OUR-GROUP", ocpp_tags=[OcppTagFactory(account=account)])
        page = superuser_client.get(url(Transaction, "changelist")).content.decode()
        filters = page[page.index('id="changelist-filter"') :]
        assert "OUR-CB" in filters and "RIVAL-CB" in filters
        page = superuser_client.get(url(OcppTag, "changelist")).content.decode()
        filters = page[page.index('id="changelist-filter"') :]
        assert "OUR-GROUP" in filters and "RIVAL-GROUP" in filters

    def test_filtering_by_another_accounts_station_shows_nothing(self, operator_client, account, rivals):
        response = operator_client.get(url(Transaction, "changelist"), {"charge_box__id__exact": rivals.charge_box.pk})
        assert list(response.context["cl"].result_list) == []
        assert RIVAL not in response.content.decode()


@pytest.mark.django_db
class TestOperationsPage:
    def test_another_accounts_charge_boxes_are_neither_shown_nor_sent_to(self, operator_client, account, rivals):
        ours = ChargeBoxFactory(account=account, charge_box_id="OUR-CB")
        operations = reverse("admin:ocpp_core_chargebox_operations")
        ids = f"{rivals.charge_box.pk},{ours.pk}"

        page = operator_client.get(operations, {"ids": ids, "operation": "Reset"}).content.decode()
        assert "OUR-CB" in page and "RIVAL-CB" not in page

        posted = operator_client.post(f"{operations}?ids={ids}&operation=Reset", {"resetType": "Soft"})
        assert "RIVAL-CB" not in posted.content.decode()
        task = OperationTask.objects.get(action="Reset", account=account)
        assert task.charge_box_ids == ["OUR-CB"]
        assert not OperationTask.objects.filter(account=rivals.account).exclude(pk=rivals.task.pk).exists()

    def test_only_another_accounts_charge_boxes_is_no_charge_box_at_all(self, operator_client, rivals):
        operations = reverse("admin:ocpp_core_chargebox_operations")
        posted = operator_client.post(f"{operations}?ids={rivals.charge_box.pk}&operation=Reset", {"resetType": "Soft"})
        page = posted.content.decode()
        assert "Choose charge boxes in the list first." in page and "RIVAL-CB" not in page
        assert OperationTask.objects.get() == rivals.task


@pytest.mark.django_db
class TestBulkActions:
    """Actions posted with another account's ids: Django selects from the admin's (scoped) queryset."""

    def test_tag_actions_leave_another_accounts_tags_alone(self, operator_client, rivals):
        for action in ("block", "unblock", "expire_now"):
            operator_client.post(url(OcppTag, "changelist"), {"action": action, "_selected_action": [rivals.tag.pk]})
        rivals.tag.refresh_from_db()
        assert rivals.tag.max_active_transaction_count == 1 and rivals.tag.expiry_date is None

    def test_stopping_another_accounts_transaction_stops_nothing(self, operator_client, rivals):
        operator_client.post(
            url(Transaction, "changelist"), {"action": "stop_manually", "_selected_action": [rivals.transaction.pk]}
        )
        rivals.transaction.refresh_from_db()
        assert rivals.transaction.stopped_at is None

    def test_sending_an_operation_to_another_accounts_charge_box_selects_none(self, operator_client, account, rivals):
        ours = ChargeBoxFactory(account=account)
        response = operator_client.post(
            url(ChargeBox, "changelist"),
            {"action": "send_operation", "_selected_action": [rivals.charge_box.pk, ours.pk]},
        )
        assert response.status_code == 302
        assert response["Location"].endswith(f"?ids={ours.pk}")


@pytest.mark.django_db
class TestUnknownChargers:
    """They belong to no account: every operator sees them, and adopts them into their own account only."""

    def test_a_staff_operator_is_not_offered_the_accounts(self, operator_client, rivals):
        UnknownChargeBoxFactory(charge_box_id="NEW-ONE")
        page = operator_client.get(url(UnknownChargeBox, "changelist")).content.decode()
        assert "NEW-ONE" in page
        assert 'name="account"' not in page and rivals.account.name not in page

    def test_a_superuser_is_offered_the_accounts(self, superuser_client, rivals):
        UnknownChargeBoxFactory(charge_box_id="NEW-ONE")
        page = superuser_client.get(url(UnknownChargeBox, "changelist")).content.decode()
        assert 'name="account"' in page and rivals.account.name in page

    def test_a_staff_operator_adopts_into_their_own_account_whatever_they_post(
        self, operator_client, account, other_account
    ):
        unknown = UnknownChargeBoxFactory(charge_box_id="NEW-ONE")
        operator_client.post(
            url(UnknownChargeBox, "changelist"),
            {"action": "adopt", "_selected_action": [unknown.pk], "account": other_account.pk},
        )
        assert ChargeBox.objects.get(charge_box_id="NEW-ONE").account == account

    def test_a_superuser_naming_no_existing_account_adopts_nothing(self, superuser_client):
        unknown = UnknownChargeBoxFactory(charge_box_id="NEW-ONE")
        response = superuser_client.post(
            url(UnknownChargeBox, "changelist"),
            {"action": "adopt", "_selected_action": [unknown.pk], "account": "not-a-number"},
        )
        assert response.status_code == 302
        assert UnknownChargeBox.objects.filter(pk=unknown.pk).exists() and not ChargeBox.objects.exists()

    def test_adopting_needs_the_permission_to_add_charge_boxes(self, client, account):
        viewer = OperatorUserFactory(account=account)
        viewer.user_permissions.add(Permission.objects.get(codename="view_unknownchargebox"))
        client.force_login(viewer)
        unknown = UnknownChargeBoxFactory(charge_box_id="NEW-ONE")
        assert 'value="adopt"' not in client.get(url(UnknownChargeBox, "changelist")).content.decode()
        client.post(url(UnknownChargeBox, "changelist"), {"action": "adopt", "_selected_action": [unknown.pk]})
        assert UnknownChargeBox.objects.filter(pk=unknown.pk).exists() and not ChargeBox.objects.exists()

    def test_deleting_needs_the_delete_permission(self, client, account):
        viewer = OperatorUserFactory(account=account)
        viewer.user_permissions.add(Permission.objects.get(codename="view_unknownchargebox"))
        client.force_login(viewer)
        unknown = UnknownChargeBoxFactory()
        response = client.post(url(UnknownChargeBox, "delete", unknown.pk), {"post": "yes"})
        assert response.status_code == 403
        assert UnknownChargeBox.objects.filter(pk=unknown.pk).exists()


def import_tags(client, csv: str):
    return client.post(
        reverse("admin:ocpp_core_ocpptag_import"),
        {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("tags.csv", csv.encode())},
    )


@pytest.mark.django_db
class TestTagImport:
    HEADER = "idTag,parentIdTag,expiryDate,maxActiveTransactionCount,note\n"

    def test_an_idtag_of_another_account_is_not_touched(self, operator_client, account, rivals):
        """idTags are unique within an account (OcppTag's constraint): the row is the operator's own tag."""
        confirm = import_tags(operator_client, f"{self.HEADER}RIVAL-TAG,,,0,mine now\n")
        form = confirm.context["confirm_form"]
        assert form is not None, confirm.content.decode()[:2000]
        assert operator_client.post(reverse("admin:ocpp_core_ocpptag_process_import"), form.initial).status_code == 302
        rivals.tag.refresh_from_db()
        assert (rivals.tag.note, rivals.tag.max_active_transaction_count) == ("theirs", 1)
        ours = OcppTag.objects.get(account=account, id_tag="RIVAL-TAG")
        assert (ours.note, ours.max_active_transaction_count) == ("mine now", 0)

    def test_a_parent_of_another_account_is_an_error_row(self, operator_client, account, rivals):
        response = import_tags(operator_client, f"{self.HEADER}CHILD,RIVAL-TAG,,1,\n")
        assert response.status_code == 200
        assert response.context.get("confirm_form") is None
        assert "does not exist" in response.content.decode()
        assert not OcppTag.objects.filter(account=account).exists()
        assert not rivals.tag.children.exists()


@pytest.mark.django_db
class TestNodePageInlines:
    def test_the_permission_inlines_offer_only_the_operators_tags_and_groups(self, operator_client, account, rivals):
        OcppTagFactory(account=account, id_tag="OUR-TAG")
        OcppTagGroupFactory(account=account, name="OUR-GROUP")
        autocomplete = reverse("admin:autocomplete")
        for model_name, field_name, ours in (
            ("ocpptagpermission", "ocpp_tag", "OUR-TAG"),
            ("ocpptaggrouppermission", "ocpp_tag_group", "OUR-GROUP"),
        ):
            response = operator_client.get(
                autocomplete,
                {"app_label": "permissions", "model_name": model_name, "field_name": field_name, "term": ""},
            )
            assert [item["text"] for item in response.json()["results"]] == [ours]

    def test_another_accounts_tag_or_group_cannot_be_posted_in_the_inlines(self, operator_client, account, rivals):
        node = NodeFactory(account=account, name="Our floor")
        data = {
            "name": "Our floor",
            "phases": 3,
            **NODE_INLINES,
            **inline_management("ocpptagpermissions", total=1),
            **inline_management("ocpptaggrouppermissions", total=1),
            "ocpptagpermissions-0-ocpp_tag": rivals.tag.pk,
            "ocpptaggrouppermissions-0-ocpp_tag_group": rivals.group.pk,
        }
        response = operator_client.post(url(node, "change", node.pk), data)
        assert response.status_code == 200  # the form again, with errors
        errors = [form.errors for formset in response.context["inline_admin_formsets"] for form in formset.formset]
        assert all("Select a valid choice" in str(error) for error in errors), errors
        assert not OcppTagPermission.objects.filter(node=node).exists()
        assert not OcppTagGroupPermission.objects.filter(node=node).exists()
        assert RIVAL not in response.content.decode()
