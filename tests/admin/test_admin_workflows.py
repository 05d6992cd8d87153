"""The operator's product UI: tenancy, the site tree, charge box assignment, permissions, tags and CSV."""

import pytest
from django.contrib.auth.hashers import check_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ocpp_core.models import ChargeBox, OcppTag
from permissions.models import OcppTagGroupPermission
from sites.models import Node

from ..factories import (
    AccountFactory,
    ChargeBoxFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
)


def inline_management(prefix: str, total: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


NODE_INLINES = {**inline_management("ocpptagpermissions"), **inline_management("ocpptaggrouppermissions")}


@pytest.mark.django_db
class TestStaffTenancy:
    def test_staff_see_only_their_accounts_objects(self, operator_client, account, other_account):
        OcppTagFactory(account=account, id_tag="MINE")
        OcppTagFactory(account=other_account, id_tag="THEIRS")
        page = operator_client.get(reverse("admin:ocpp_core_ocpptag_changelist")).content.decode()
        assert "MINE" in page and "THEIRS" not in page

    def test_another_accounts_object_is_not_there(self, operator_client, other_account):
        theirs = ChargeBoxFactory(account=other_account)
        response = operator_client.get(reverse("admin:ocpp_core_chargebox_change", args=[theirs.pk]))
        assert response.status_code == 302  # "doesn't exist. Perhaps it was deleted?"
        delete = operator_client.post(reverse("admin:ocpp_core_chargebox_delete", args=[theirs.pk]), {"post": "yes"})
        assert delete.status_code == 302
        assert ChargeBox.objects.filter(pk=theirs.pk).exists()

    def test_staff_create_in_their_own_account_whatever_they_post(self, operator_client, account, other_account):
        response = operator_client.post(
            reverse("admin:ocpp_core_ocpptag_add"),
            {"account": other_account.pk, "id_tag": "NEW-CARD", "max_active_transaction_count": 1},
        )
        assert response.status_code == 302, response.content
        assert OcppTag.objects.get(id_tag="NEW-CARD").account == account

    def test_autocomplete_offers_only_their_nodes(self, operator_client, account, other_account):
        NodeFactory(account=account, name="Our garage")
        NodeFactory(account=other_account, name="Their garage")
        response = operator_client.get(
            reverse("admin:autocomplete"),
            {"app_label": "ocpp_core", "model_name": "chargebox", "field_name": "node", "term": "garage"},
        )
        assert [item["text"] for item in response.json()["results"]] == ["Our garage"]

    def test_staff_cannot_see_accounts_or_logins(self, operator_client):
        assert operator_client.get(reverse("admin:accounts_account_changelist")).status_code == 403
        assert operator_client.get(reverse("admin:accounts_operatoruser_changelist")).status_code == 403


@pytest.mark.django_db
class TestSiteTreeAdmin:
    def test_an_operator_builds_a_tree_and_assigns_stations_from_the_node(self, operator_client, account):
        box = ChargeBoxFactory(account=account, charge_box_id="CB-1")
        add = reverse("admin:sites_node_add")
        assert operator_client.post(add, {"name": "Building", "phases": 3, **NODE_INLINES}).status_code == 302
        building = Node.objects.get(name="Building")
        response = operator_client.post(
            add, {"name": "Floor 1", "parent": building.pk, "phases": 3, "charge_boxes": [box.pk], **NODE_INLINES}
        )
        assert response.status_code == 302, response.content
        floor = Node.objects.get(name="Floor 1")
        assert (floor.parent, floor.account) == (building, account)
        box.refresh_from_db()
        assert box.node == floor
        assert "CB-1" in operator_client.get(reverse("admin:sites_node_change", args=[floor.pk])).content.decode()

    def test_a_group_permission_is_granted_inline_on_the_node(self, operator_client, account):
        node = NodeFactory(account=account, name="Floor 2")
        group = OcppTagGroupFactory(account=account)
        data = {
            "name": "Floor 2",
            "phases": 3,
            **NODE_INLINES,
            **inline_management("ocpptaggrouppermissions", total=1),
            "ocpptaggrouppermissions-0-ocpp_tag_group": group.pk,
            "ocpptaggrouppermissions-0-applies_to_all_children": "on",
        }
        response = operator_client.post(reverse("admin:sites_node_change", args=[node.pk]), data)
        assert response.status_code == 302, response.content
        permission = OcppTagGroupPermission.objects.get()
        assert (permission.node, permission.ocpp_tag_group, permission.applies_to_all_children) == (node, group, True)

    def test_the_tree_changelist_shows_the_tree(self, operator_client, account):
        root = NodeFactory(account=account, name="Campus")
        NodeFactory(parent=root, name="Block B")
        page = operator_client.get(reverse("admin:sites_node_changelist")).content.decode()
        assert "Campus" in page and "Block B" in page and "draggable-admin" in page

    def test_drag_and_drop_moves_a_subtree_and_refuses_a_cycle(self, operator_client, account):
        root = NodeFactory(account=account, name="Root")
        a = NodeFactory(parent=root, name="A")
        b = NodeFactory(parent=root, name="B")
        a_child = NodeFactory(parent=a, name="A1")
        url = reverse("admin:sites_node_changelist")

        moved = operator_client.post(
            url, {"cmd": "move_node", "cut_item": a.pk, "pasted_on": b.pk, "position": "last-child"}
        )
        assert moved.content == b"OK, moved."
        a.refresh_from_db()
        a_child.refresh_from_db()
        assert a.parent_id == b.pk and a_child.parent_id == a.pk and a_child.level == 3

        cycle = operator_client.post(
            url, {"cmd": "move_node", "cut_item": b.pk, "pasted_on": a_child.pk, "position": "last-child"}
        )
        assert cycle.content == b"FAIL, invalid move."
        b.refresh_from_db()
        assert b.parent_id == root.pk

    def test_deleting_a_node_unassigns_its_stations(self, operator_client, account):
        root = NodeFactory(account=account, name="Root")
        floor = NodeFactory(parent=root, name="Floor")
        box = ChargeBoxFactory(account=account, node=floor)
        response = operator_client.post(reverse("admin:sites_node_delete", args=[root.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert not Node.objects.exists()
        box.refresh_from_db()
        assert box.node is None


@pytest.mark.django_db
class TestResolverViews:
    def test_who_may_charge_here_and_where_may_this_tag_charge(self, operator_client, account):
        floor = NodeFactory(account=account, name="Floor 3")
        wing = NodeFactory(parent=floor, name="Left wing")
        box = ChargeBoxFactory(account=account, node=wing, charge_box_id="CB-3L1")
        manager = OcppTagFactory(account=account, id_tag="MANAGER")
        resident = OcppTagFactory(account=account, id_tag="RESIDENT")
        OcppTagFactory(account=account, id_tag="STRANGER")
        OcppTagPermissionFactory(ocpp_tag=manager, node=floor, applies_to_all_children=True)
        OcppTagGroupPermissionFactory(
            ocpp_tag_group=OcppTagGroupFactory(account=account, ocpp_tags=[resident]), node=wing
        )

        page = operator_client.get(reverse("admin:ocpp_core_chargebox_change", args=[box.pk])).content.decode()
        section = page[page.index("who_may_charge_here") :]
        assert "MANAGER" in section and "RESIDENT" in section and "STRANGER" not in section
        assert "Floor 3" in section and "a permission of one of the tag&#x27;s groups" in section

        page = operator_client.get(reverse("admin:ocpp_core_ocpptag_change", args=[manager.pk])).content.decode()
        assert "CB-3L1" in page[page.index("where_may_this_tag_charge") :]


@pytest.mark.django_db
class TestTagAdmin:
    def test_block_unblock_and_expire_actions(self, operator_client, account):
        tag = OcppTagFactory(account=account)
        url = reverse("admin:ocpp_core_ocpptag_changelist")
        operator_client.post(url, {"action": "block", "_selected_action": [tag.pk]})
        tag.refresh_from_db()
        assert tag.blocked
        operator_client.post(url, {"action": "unblock", "_selected_action": [tag.pk]})
        operator_client.post(url, {"action": "expire_now", "_selected_action": [tag.pk]})
        tag.refresh_from_db()
        assert not tag.blocked and tag.is_expired()

    def test_csv_export(self, operator_client, account, other_account):
        OcppTagFactory(account=account, id_tag="EXPORTED", note="hello")
        OcppTagFactory(account=other_account, id_tag="NOT-MINE")
        response = operator_client.post(
            reverse("admin:ocpp_core_ocpptag_export"),
            {
                "format": "0",
                "resource": "0",
                **{
                    f"ocpptagresource_{f}": "on"
                    for f in ("id_tag", "parent", "expiry_date", "max_active_transaction_count", "note")
                },
            },
        )
        assert response.status_code == 200, response.content[:500]
        csv = response.content.decode()
        assert csv.splitlines()[0] == "idTag,parentIdTag,expiryDate,maxActiveTransactionCount,note"
        assert "EXPORTED" in csv and "NOT-MINE" not in csv

    def test_csv_import_creates_and_updates_tags_in_the_operators_account(self, operator_client, account):
        OcppTagFactory(account=account, id_tag="EXISTING", note="old")
        csv = (
            "idTag,parentIdTag,expiryDate,maxActiveTransactionCount,note\n"
            "FLEET,,,5,fleet parent\n"
            "CAR-1,FLEET,2035-01-01 00:00:00,1,car\n"
            "EXISTING,,,1,new note\n"
        )
        confirm = operator_client.post(
            reverse("admin:ocpp_core_ocpptag_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("tags.csv", csv.encode())},
        )
        assert confirm.status_code == 200
        form = confirm.context["confirm_form"]
        assert form is not None, confirm.content.decode()[:2000]
        done = operator_client.post(reverse("admin:ocpp_core_ocpptag_process_import"), form.initial)
        assert done.status_code == 302
        tags = {t.id_tag: t for t in OcppTag.objects.filter(account=account)}
        assert tags["CAR-1"].parent == tags["FLEET"]
        assert tags["FLEET"].max_active_transaction_count == 5
        assert tags["EXISTING"].note == "new note"

    def test_csv_import_reports_invalid_rows_and_imports_nothing(self, operator_client, account):
        csv = "idTag,parentIdTag,expiryDate,maxActiveTransactionCount,note\nGOOD,,,1,\nhas space,,,1,\n"
        response = operator_client.post(
            reverse("admin:ocpp_core_ocpptag_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("tags.csv", csv.encode())},
        )
        assert response.status_code == 200
        assert response.context.get("confirm_form") is None
        assert "printable ASCII" in response.content.decode()
        assert not OcppTag.objects.exists()


@pytest.mark.django_db
def test_the_charge_box_password_is_hashed(superuser_client, account):
    data = {
        "account": account.pk,
        "charge_box_id": "CB-PW",
        "registration_status": "Accepted",
        "heartbeat_interval": 300,
        "max_current_a": 32,
        "min_current_a": 6,
        "phases": 3,
        "phase_rotation": "RST",
        "new_auth_password": "a-very-secret-password",
        **inline_management("connectors"),
    }
    response = superuser_client.post(reverse("admin:ocpp_core_chargebox_add"), data)
    assert response.status_code == 302, response.content
    box = ChargeBox.objects.get(charge_box_id="CB-PW")
    assert check_password("a-very-secret-password", box.auth_password_hash)


@pytest.mark.django_db
def test_a_superuser_sees_every_account(superuser_client):
    for name in ("One", "Two"):
        OcppTagFactory(account=AccountFactory(name=name), id_tag=f"TAG-{name}")
    page = superuser_client.get(reverse("admin:ocpp_core_ocpptag_changelist")).content.decode()
    assert "TAG-One" in page and "TAG-Two" in page
