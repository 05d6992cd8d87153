"""Connected flags of chargers whose server process died (ocpp_core.services.connections): released once the
process's lease runs out, never those of a live process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ocpp_core.models import ChargeBox, ServerProcess
from ocpp_core.services.connections import (
    LEASE_SECONDS,
    SERVER_INSTANCE,
    new_connection_id,
    server_lease_renew,
    stale_connections_release,
)
from tests.factories import ChargeBoxFactory

pytestmark = pytest.mark.django_db


def connected(account, charge_box_id, connection_id):
    return ChargeBoxFactory(
        account=account, charge_box_id=charge_box_id, is_connected=True, connection_id=connection_id
    )


def test_chargers_of_a_process_that_stopped_renewing_are_released(account):
    now = timezone.now()
    server_lease_renew(now=now)  # this process: alive
    ServerProcess.objects.create(
        instance_id="deadbeef0001",
        started_at=now - timedelta(hours=1),
        renewed_at=now - timedelta(seconds=LEASE_SECONDS + 1),
    )
    ServerProcess.objects.create(instance_id="a11ve0000002", started_at=now, renewed_at=now - timedelta(seconds=30))
    mine = connected(account, "MINE", new_connection_id())
    dead = connected(account, "DEAD", "deadbeef0001.0123456789abcdef0123456")
    other_live = connected(account, "OTHER", "a11ve0000002.0123456789abcdef0123456")
    legacy = connected(account, "LEGACY", "0123456789abcdef0123456789abcdef")  # from before server leases

    assert stale_connections_release(now=now) == 2

    flags = dict(ChargeBox.objects.values_list("charge_box_id", "is_connected"))
    assert flags == {"MINE": True, "DEAD": False, "OTHER": True, "LEGACY": False}
    assert ChargeBox.objects.get(pk=dead.pk).connection_id == ""
    assert ChargeBox.objects.get(pk=legacy.pk).disconnected_at == now
    # (a live test server of the session may hold a lease of its own meanwhile)
    assert {SERVER_INSTANCE, "a11ve0000002"} <= set(ServerProcess.objects.values_list("instance_id", flat=True))
    assert not ServerProcess.objects.filter(instance_id="deadbeef0001").exists()
    assert mine.pk and other_live.pk


def test_a_renewed_lease_keeps_its_chargers(account):
    start = timezone.now()
    server_lease_renew(now=start)
    box = connected(account, "KEPT", new_connection_id())
    later = start + timedelta(seconds=LEASE_SECONDS * 3)
    server_lease_renew(now=later - timedelta(seconds=5))
    assert stale_connections_release(now=later) == 0
    assert ChargeBox.objects.get(pk=box.pk).is_connected
    assert ServerProcess.objects.get(instance_id=SERVER_INSTANCE).started_at == start
