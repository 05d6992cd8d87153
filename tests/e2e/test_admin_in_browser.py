"""An operator, in Debian's chromium, logs in, builds a three-level site, assigns a charge box and grants a tag
group a permission; the permission resolver then admits the group's tag at that charge box. Operations are sent
from the admin, and a site's load is charted per phase."""

import os
import shutil
from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import F
from django.utils import timezone

from ocpp_core.models import ChargeBox, MeterValue
from permissions.choices import PermissionVia
from permissions.models import OcppTagGroupPermission
from permissions.selectors import tag_may_charge
from powerfill.accounts.services import operators_group_sync
from priority.models import AllocationRun
from priority.services.load_management import site_rebalance_once
from sites.models import Node

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OperatorUserFactory,
    TransactionFactory,
)
from ..live import asgi_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.live_server,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def page(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        # ORM calls made while Playwright's loop runs use their own connections; close them before teardown.
        connections.close_all()


def test_an_operator_builds_a_site_and_grants_a_group_access(page, account, tmp_path):
    operator = OperatorUserFactory(username="olivia", account=account)
    operator.groups.add(operators_group_sync())
    ChargeBoxFactory(account=account, charge_box_id="CB-E2E")
    tag = OcppTagFactory(account=account, id_tag="RESIDENT-7")
    OcppTagGroupFactory(account=account, name="Wing residents", ocpp_tags=[tag])

    with asgi_server() as base_url:
        page.goto(f"{base_url}/admin/")
        page.fill("#id_username", "olivia")
        page.fill("#id_password", "correct horse battery")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")

        def add_node(name: str, parent: str | None = None, charge_box: str | None = None):
            page.goto(f"{base_url}/admin/sites/node/add/")
            page.fill("#id_name", name)
            if parent:
                page.select_option("#id_parent", value=str(Node.objects.get(name=parent).pk))
            if charge_box:
                page.select_option("#id_charge_boxes_from", label=charge_box)
                page.click("#id_charge_boxes_add")
            page.click("input[name=_save]")
            page.wait_for_selector(".messagelist .success")

        add_node("HQ")
        add_node("Floor 2", parent="HQ")
        add_node("Wing B", parent="Floor 2", charge_box="CB-E2E")

        page.goto(f"{base_url}/admin/sites/node/")
        tree = page.inner_text("#result_list")
        assert tree.index("HQ") < tree.index("Floor 2") < tree.index("Wing B")

        floor = Node.objects.get(name="Floor 2")
        page.goto(f"{base_url}/admin/sites/node/{floor.pk}/change/")
        page.click("#ocpptaggrouppermissions-group .add-row a")
        page.click("#ocpptaggrouppermissions-group .dynamic-ocpptaggrouppermissions .select2-selection")
        page.fill(".select2-search__field", "Wing")
        page.click(".select2-results__option:has-text('Wing residents')")
        page.check("#id_ocpptaggrouppermissions-0-applies_to_all_children")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        page.screenshot(path=str(tmp_path / "site-tree.png"), full_page=True)

        box = ChargeBox.objects.select_related("node").get(charge_box_id="CB-E2E")
        assert box.node.name == "Wing B"
        assert [n.name for n in box.node.get_ancestors(include_self=True)] == ["HQ", "Floor 2", "Wing B"]
        permission = OcppTagGroupPermission.objects.get()
        assert (permission.node.name, permission.applies_to_all_children) == ("Floor 2", True)
        decision = tag_may_charge(id_tag="RESIDENT-7", charge_box=box)
        assert (decision.allowed, decision.via, decision.node_id) == (True, PermissionVia.OCPP_TAG_GROUP, floor.pk)

        # The charge box page answers "who may charge here?" from the same resolver.
        page.goto(f"{base_url}/admin/ocpp_core/chargebox/{box.pk}/change/")
        assert "RESIDENT-7" in page.inner_text(".field-who_may_charge_here")


def test_an_operator_sends_an_operation_from_the_admin_and_sees_the_answer(page, account):
    import asyncio
    import threading

    from .ocpp_client import raw_charger

    operator = OperatorUserFactory(username="otto", account=account)
    operator.groups.add(operators_group_sync())
    ChargeBoxFactory(account=account, charge_box_id="CB-UI")
    answered = threading.Event()
    results_shown = threading.Event()
    received = []

    with asgi_server() as base_url:

        async def charger():
            async with raw_charger(base_url, "CB-UI") as test_charger:
                await test_charger.boot()
                ready.set()
                call = await test_charger.next_call(timeout=60)
                received.append(call)
                await test_charger.reply(
                    call, {"configurationKey": [{"key": "HeartbeatInterval", "value": "300", "readonly": False}]}
                )
                answered.set()
                # Stay connected until the page showed the results: the answer is still on its way to the API.
                await asyncio.to_thread(results_shown.wait, 30)

        ready = threading.Event()
        thread = threading.Thread(target=lambda: asyncio.run(charger()), daemon=True)
        thread.start()
        assert ready.wait(15)

        page.goto(f"{base_url}/admin/login/")
        page.fill("#id_username", "otto")
        page.fill("#id_password", "correct horse battery")
        page.click("input[type=submit]")
        page.goto(f"{base_url}/admin/ocpp_core/chargebox/")
        page.check("input[name=_selected_action]")
        page.select_option("select[name=action]", "send_operation")
        page.click("button[name=index]")
        page.select_option("#choose-operation select", "GetConfiguration")  # submits the choice
        page.wait_for_selector("#operation-form")
        page.fill("input[name=commaSeparatedCustomConfKeys]", "HeartbeatInterval")
        page.click("#operation-form input[type=submit]")
        page.wait_for_selector("#operation-results")
        results = page.inner_text("#operation-results")
        results_shown.set()
        thread.join(10)

    assert answered.is_set()
    assert received[0][2] == "GetConfiguration" and received[0][3] == {"key": ["HeartbeatInterval"]}
    assert "CB-UI" in results and "HeartbeatInterval" in results and "answered" in results


def test_an_operator_sees_a_nodes_load_per_phase(page, account, tmp_path):
    operator = OperatorUserFactory(username="lena", account=account)
    operator.groups.add(operators_group_sync())
    site = NodeFactory(account=account, name="Depot", max_current_a=32)
    box = ChargeBoxFactory(node=site)  # not connected: counted at what it draws
    ConnectorFactory(charge_box=box)
    tx = TransactionFactory(charge_box=box)
    for reason, readings in (("status", (10.0, 9.0, 8.0)), ("periodic", (14.0, 13.5, 12.0))):
        for phase, amps in zip(("L1", "L2", "L3"), readings, strict=True):
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
        site_rebalance_once(root_id=site.pk, reason=reason)
    # Ten minutes apart rather than milliseconds, as they would be on a site.
    AllocationRun.objects.filter(reason="status").update(computed_at=F("computed_at") - timedelta(minutes=10))

    with asgi_server() as base_url:
        page.goto(f"{base_url}/admin/login/")
        page.fill("#id_username", "lena")
        page.fill("#id_password", "correct horse battery")
        page.click("input[type=submit]")
        page.goto(f"{base_url}/admin/sites/node/{site.pk}/change/")
        chart = page.locator('.field-load svg[aria-label="load of Depot"]')
        chart.wait_for()
        # The draw rose between the recomputes: sloped lines have an area, which Playwright's visibility wants.
        for phase in ("L1", "L2", "L3"):
            assert chart.locator(f'polyline[data-series="{phase} allocated"]').is_visible()
            assert chart.locator(f'polyline[data-series="{phase} measured"]').is_visible()
        assert chart.locator('polyline[data-series="limit"]').bounding_box()["width"] > 300  # flat: no height
        assert "L2\t32.0\t14.0\t13.5" in page.inner_text(".field-load table")
        chart.screenshot(path=str(tmp_path / "node-load.png"))
