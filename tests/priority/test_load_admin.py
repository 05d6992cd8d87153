"""A node's load in the admin: the recomputes that load management records (AllocationRun), charted per phase on
the node's page with the latest numbers beside, the runs' own read-only pages, and the selector behind the chart."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ocpp_core.models import MeterValue
from powerfill.accounts.services import operators_group_sync
from priority.models import AllocationRun
from priority.selectors import node_load_history
from priority.services.load_management import site_rebalance_once

from ..factories import (
    AllocationRunFactory,
    ChargeBoxFactory,
    ConnectorFactory,
    NodeFactory,
    OperatorUserFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db

MEASURED = {"L1": 14.0, "L2": 13.5, "L3": 12.0}


def operator_client(client, account, username="staff"):
    user = OperatorUserFactory(username=username, account=account)
    user.groups.add(operators_group_sync())
    client.force_login(user)
    return client


@pytest.fixture
def site(account):
    """A 32 A site with one station that is not connected: load management counts it at what it draws, per phase
    as its Current.Import readings say, and calls no charger."""
    root = NodeFactory(account=account, name="Depot", max_current_a=32)
    floor = NodeFactory(parent=root, name="Level 1")
    box = ChargeBoxFactory(node=floor, charge_box_id="CB-LOAD")
    ConnectorFactory(charge_box=box, connector_id=1)
    tx = TransactionFactory(charge_box=box, connector_id=1)
    for phase, amps in MEASURED.items():
        MeterValue.objects.create(
            charge_box=box,
            connector_id=1,
            transaction=tx,
            timestamp=timezone.now(),
            measurand="Current.Import",
            phase=phase,
            unit="A",
            value=str(amps),
            numeric_value=amps,
        )
    for reason in ("status", "periodic"):
        assert site_rebalance_once(root_id=root.pk, reason=reason) is not None
    return root, floor


def node_page(client, node):
    return client.get(reverse("admin:sites_node_change", args=[node.pk]))


def test_it_charts_the_nodes_limit_allocation_and_measurements_per_phase(client, account, site):
    root, floor = site
    page = node_page(operator_client(client, account), root).content.decode()
    start = page.index('aria-label="load of Depot"')
    chart = page[start : page.index("</svg>", start)]
    for label in ("limit", "L1 allocated", "L1 measured", "L2 allocated", "L2 measured", "L3 allocated", "L3 measured"):
        assert f'data-series="{label}"' in chart
    latest = AllocationRun.objects.filter(root=root).latest("computed_at")
    assert latest.reason == "periodic"
    assert reverse("admin:priority_allocationrun_change", args=[latest.pk]) in page and "(periodic)" in page
    # Not steered: counted (allocated) at its largest measured phase on the phases it uses; measured as read.
    for phase, amps in MEASURED.items():
        assert f"<tr><td>{phase}</td><td>32.0</td><td>14.0</td><td>{amps}</td></tr>" in page


def test_a_node_without_a_limit_has_no_limit_line_but_its_subtrees_load(client, account, site):
    root, floor = site
    page = node_page(operator_client(client, account), floor).content.decode()
    assert 'data-series="L2 measured"' in page and 'data-series="limit"' not in page
    assert "<tr><td>L2</td><td>none</td><td>14.0</td><td>13.5</td></tr>" in page


def test_a_node_of_an_unmanaged_site_says_so(client, account):
    node = NodeFactory(account=account, name="Quiet")
    page = node_page(operator_client(client, account), node).content.decode()
    assert "No recompute of this site in the last 24 hours" in page and "<polyline" not in page


def test_the_add_page_has_no_load_section(client, account):
    page = operator_client(client, account).get(reverse("admin:sites_node_add")).content.decode()
    assert "Load (last 24 hours)" not in page


def test_another_accounts_operator_sees_neither_the_node_nor_its_runs(client, other_account, site):
    root, _ = site
    rival = operator_client(client, other_account, username="rival")
    assert node_page(rival, root).status_code in (302, 404)
    run = AllocationRun.objects.filter(root=root).first()
    assert rival.get(reverse("admin:priority_allocationrun_change", args=[run.pk])).status_code in (302, 404)
    changelist = rival.get(reverse("admin:priority_allocationrun_changelist"))
    assert list(changelist.context["cl"].result_list) == []


def test_a_runs_page_lists_its_nodes_in_tree_order(client, account, site):
    root, floor = site
    run = AllocationRun.objects.filter(root=root).first()
    page = operator_client(client, account).get(reverse("admin:priority_allocationrun_change", args=[run.pk]))
    body = page.content.decode()
    assert "<td>Depot</td><td>32.0</td><td>14.0, 14.0, 14.0</td><td>14.0, 13.5, 12.0</td>" in body
    assert body.index("<td>Depot</td>") < body.index("<td>Level 1</td>")


class TestNodeLoadHistory:
    def test_it_keeps_the_period_oldest_first_and_only_runs_that_know_the_node(self, account):
        root = NodeFactory(account=account, max_current_a=32)
        now = timezone.now()
        for hours in (30, 3, 2, 1):
            AllocationRunFactory(root=root, computed_at=now - timedelta(hours=hours), reason=f"{hours} h ago")
        AllocationRunFactory(root=root, computed_at=now, nodes={})  # before the node was in this site
        history = node_load_history(node=root, since=now - timedelta(hours=24))
        assert [h.reason for h in history] == ["3 h ago", "2 h ago", "1 h ago"]
        assert (history[-1].limit, history[-1].allocated, history[-1].measured) == (32, [16.0] * 3, [10.0, 11.0, 9.5])

    def test_it_thins_many_runs_evenly_keeping_the_newest(self, account, django_assert_max_num_queries):
        root = NodeFactory(account=account, max_current_a=32)
        start = timezone.now() - timedelta(hours=10)
        for minute in range(100):
            AllocationRunFactory(root=root, computed_at=start + timedelta(minutes=minute), reason=str(minute))
        child = NodeFactory(parent=root)
        loads = {"limit": None, "allocated": [1, 2, 3], "measured": [0, 0, 0]}
        AllocationRun.objects.update(nodes={str(child.pk): loads})
        with django_assert_max_num_queries(3):
            history = node_load_history(node=child, since=start, max_points=10)
        assert [h.reason for h in history] == ["0", "11", "22", "33", "44", "55", "66", "77", "88", "99"]
        assert node_load_history(node=child, since=start, max_points=1)[0].reason == "99"
