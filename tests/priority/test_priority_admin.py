"""The admin's priority pages: priorities edited on the charge box's page (through the service, so the history is
kept) beside each connector's load, the read-only history, and time-of-use windows on the operator's own sites."""

from datetime import time

import pytest
from django.urls import reverse

from ocpp_core.models import Connector
from powerfill.accounts.services import operators_group_sync
from priority.choices import PriorityChangeSource
from priority.models import PriorityChange, TimeOfUseWindow
from priority.services.priorities import connector_priority_set

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    ConnectorLoadFactory,
    NodeFactory,
    OperatorUserFactory,
    PriorityChangeFactory,
    TimeOfUseWindowFactory,
)

pytestmark = pytest.mark.django_db

RIVAL = "RIVAL-"


@pytest.fixture
def operator(account):
    """A staff operator of `account`, with the Operators group's permissions (as tests/admin/conftest.py's)."""
    user = OperatorUserFactory(username="staff", account=account)
    user.groups.add(operators_group_sync())
    return user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def superuser_client(client, db):
    client.force_login(OperatorUserFactory(username="root", is_superuser=True, account=None))
    return client


def change_form_data(response) -> dict:
    """What the browser would post back from a change page, unchanged: the form's and its inlines' current values."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            value = form[name].value()
            if field.disabled or value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


def chargebox_url(box) -> str:
    return reverse("admin:ocpp_core_chargebox_change", args=[box.pk])


@pytest.fixture
def station(account):
    box = ChargeBoxFactory(account=account, charge_box_id="CB-ADMIN")
    for connector_id in (0, 1, 2):
        ConnectorFactory(charge_box=box, connector_id=connector_id)
    return box


def connector_row(data: dict, connector_id: int) -> str:
    """The inline prefix of the connector's row in posted data (rows are ordered by connector id)."""
    return next(
        key[: -len("-connector_id")]
        for key, value in data.items()
        if key.endswith("-connector_id") and value == connector_id
    )


class TestPriorityOnTheChargeBoxPage:
    def test_an_operator_sets_a_priority_and_the_change_is_recorded(self, operator_client, operator, station):
        page = operator_client.get(chargebox_url(station))
        data = change_form_data(page)
        data[f"{connector_row(data, 1)}-priority"] = 7
        response = operator_client.post(chargebox_url(station), data)
        assert response.status_code == 302, response.context and response.context["errors"]
        assert Connector.objects.get(charge_box=station, connector_id=1).priority == 7
        change = PriorityChange.objects.get()
        assert (change.connector.connector_id, change.previous_priority, change.priority) == (1, 0, 7)
        assert (change.source, change.changed_by) == (PriorityChangeSource.ADMIN, operator.username)

    def test_saving_the_page_without_touching_priorities_records_nothing(self, operator_client, station):
        connector_priority_set(
            connector=station.connectors.get(connector_id=2), priority=3, source=PriorityChangeSource.API
        )
        data = change_form_data(operator_client.get(chargebox_url(station)))
        data["description"] = "renamed"
        assert operator_client.post(chargebox_url(station), data).status_code == 302
        assert PriorityChange.objects.count() == 1
        assert station.connectors.get(connector_id=2).priority == 3

    def test_a_priority_out_of_range_or_on_connector_0_is_an_error(self, operator_client, station):
        data = change_form_data(operator_client.get(chargebox_url(station)))
        for connector_id, priority in ((1, 10), (0, 2)):
            posted = {**data, f"{connector_row(data, connector_id)}-priority": priority}
            response = operator_client.post(chargebox_url(station), posted)
            assert response.status_code == 200  # the form again, with the error
            assert response.context["inline_admin_formsets"][0].formset.total_error_count() == 1
        assert not PriorityChange.objects.exists()
        assert set(station.connectors.values_list("priority", flat=True)) == {0}

    def test_a_new_connector_with_a_priority_gets_its_history_too(self, superuser_client, station):
        data = change_form_data(superuser_client.get(chargebox_url(station)))
        prefix = connector_row(data, 2).rsplit("-", 1)[0]
        index = int(data[f"{prefix}-TOTAL_FORMS"])
        data.update({f"{prefix}-TOTAL_FORMS": index + 1, f"{prefix}-{index}-connector_id": 3})
        data.update({f"{prefix}-{index}-priority": -2, f"{prefix}-{index}-evse_id": ""})
        assert superuser_client.post(chargebox_url(station), data).status_code == 302
        new = station.connectors.get(connector_id=3)
        assert new.priority == -2
        assert list(new.priority_changes.values_list("previous_priority", "priority", "changed_by")) == [
            (0, -2, "root")
        ]

    def test_the_page_shows_each_connectors_load_read_only(self, operator_client, station):
        ConnectorLoadFactory(
            connector=station.connectors.get(connector_id=1),
            allocated_amps=16,
            applied_amps=13.5,
            apply_status="Accepted",
        )
        page = operator_client.get(chargebox_url(station)).content.decode()
        assert "16 A" in page and "13.5 A" in page and "accepted" in page
        history = f'?connector__id__exact={station.connectors.get(connector_id=1).pk}">history</a>'
        assert "Priority history" in page and history in page
        assert 'name="connectors-0-allocated' not in page  # shown, not editable

    def test_the_page_costs_the_same_queries_with_or_without_loads(
        self, operator_client, station, django_assert_max_num_queries
    ):
        operator_client.get(chargebox_url(station))
        for connector in station.connectors.all():
            ConnectorLoadFactory(connector=connector, allocated_amps=10)
        with django_assert_max_num_queries(40):
            assert operator_client.get(chargebox_url(station)).status_code == 200


class TestPriorityHistory:
    def test_an_operator_sees_only_their_accounts_changes(self, operator_client, account, other_account):
        PriorityChangeFactory(connector__charge_box=ChargeBoxFactory(account=account, charge_box_id="OUR-CB"))
        PriorityChangeFactory(
            connector__charge_box=ChargeBoxFactory(account=other_account, charge_box_id="RIVAL-CB"),
            changed_by="RIVAL-OPERATOR",
        )
        response = operator_client.get(reverse("admin:priority_prioritychange_changelist"))
        page = response.content.decode()
        assert "OUR-CB/1" in page and RIVAL not in page
        assert response.context["cl"].result_count == 1

    def test_the_history_is_read_only(self, operator_client, account):
        change = PriorityChangeFactory(connector__charge_box__account=account, priority=4)
        assert operator_client.get(reverse("admin:priority_prioritychange_add")).status_code == 403
        url = reverse("admin:priority_prioritychange_change", args=[change.pk])
        assert operator_client.get(url).status_code == 200
        operator_client.post(url, {"priority": 9, "source": "admin", "changed_by": "me"})
        change.refresh_from_db()
        assert (change.priority, change.changed_by) == (4, "tests")

    def test_a_connectors_history_link_filters_its_changes(self, operator_client, account):
        ours = PriorityChangeFactory(connector__charge_box__account=account)
        PriorityChangeFactory(connector__charge_box__account=account)
        response = operator_client.get(
            reverse("admin:priority_prioritychange_changelist"), {"connector__id__exact": ours.connector_id}
        )
        assert list(response.context["cl"].result_list) == [ours]

    def test_another_accounts_connector_filters_to_nothing(self, operator_client, other_account):
        theirs = PriorityChangeFactory(connector__charge_box__account=other_account)
        response = operator_client.get(
            reverse("admin:priority_prioritychange_changelist"), {"connector__id__exact": theirs.connector_id}
        )
        assert list(response.context["cl"].result_list) == []


class TestTimeOfUseWindows:
    ADD = "admin:priority_timeofusewindow_add"

    def form(self, node, **overrides) -> dict:
        return {
            "node": node.pk,
            "name": "Evening peak",
            "weekdays": "12345",
            "starts_at": "17:00",
            "ends_at": "20:00",
            "price_level": "expensive",
            "peak_cap_kw": "50",
            **overrides,
        }

    def test_an_operator_adds_a_window_to_their_site(self, operator_client, account):
        site = NodeFactory(account=account, name="Depot")
        response = operator_client.post(reverse(self.ADD), self.form(site, weekdays="5, 3,1"))
        assert response.status_code == 302, response.context["adminform"].form.errors
        window = TimeOfUseWindow.objects.get()
        assert (window.node, window.weekdays, window.starts_at, window.peak_cap_kw) == (site, "135", time(17), 50)

    def test_only_the_operators_own_sites_are_offered(self, operator_client, account, other_account):
        site = NodeFactory(account=account, name="OUR-SITE")
        NodeFactory(account=account, parent=site, name="OUR-FLOOR")
        NodeFactory(account=other_account, name="RIVAL-SITE")
        response = operator_client.get(reverse(self.ADD))
        choices = [label for _, label in response.context["adminform"].form.fields["node"].choices]
        assert choices == ["---------", "OUR-SITE"]
        assert RIVAL not in response.content.decode()

    def test_another_accounts_site_cannot_be_posted(self, operator_client, other_account):
        theirs = NodeFactory(account=other_account, name="RIVAL-SITE")
        response = operator_client.post(reverse(self.ADD), self.form(theirs))
        assert response.status_code == 200
        assert "node" in response.context["adminform"].form.errors
        assert not TimeOfUseWindow.objects.exists()

    @pytest.mark.parametrize(("field", "value"), [("weekdays", "8"), ("weekdays", "1123"), ("peak_cap_kw", "-1")])
    def test_invalid_values_are_refused(self, operator_client, account, field, value):
        response = operator_client.post(reverse(self.ADD), self.form(NodeFactory(account=account), **{field: value}))
        assert response.status_code == 200 and field in response.context["adminform"].form.errors
        assert not TimeOfUseWindow.objects.exists()

    def test_an_operator_sees_only_their_windows(self, operator_client, account, other_account):
        TimeOfUseWindowFactory(node__account=account, name="OUR-WINDOW")
        TimeOfUseWindowFactory(node__account=other_account, name="RIVAL-WINDOW")
        page = operator_client.get(reverse("admin:priority_timeofusewindow_changelist")).content.decode()
        assert "OUR-WINDOW" in page and RIVAL not in page
