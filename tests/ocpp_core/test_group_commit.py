"""Group commit (ocpp_core.db.GroupCommit) on the real database of the run: writes that arrive together commit
together, each caller learns the fate of its own write, and a caller that goes away does not lose its write."""

import asyncio

import pytest

from ocpp_core.db import INTEGRITY_ERRORS, statement_rounds
from ocpp_core.models import ChargeBox, Connector, ConnectorStatus
from ocpp_core.services.charger_messages import connector_status_report
from tests.factories import ChargeBoxFactory

from .scenarios import run

pytestmark = pytest.mark.django_db(transaction=True)


def report(db, charge_box, status="Charging"):
    return connector_status_report(db=db, charge_box=charge_box, connector_id=1, status=status, error_code="NoError")


def test_writes_arriving_together_commit_in_one_batch(account):
    boxes = ChargeBoxFactory.create_batch(40, account=account)

    async def scenario(db):
        await asyncio.gather(*(report(db, box) for box in boxes))
        return db.group_commit.batches, db.group_commit.writes

    batches, writes = run(scenario)
    assert writes == 40 and batches <= 2
    assert ConnectorStatus.objects.filter(charge_box__in=boxes).count() == 40
    assert set(Connector.objects.filter(charge_box__in=boxes).values_list("status", flat=True)) == {"Charging"}


def test_a_write_that_fails_fails_alone(account):
    boxes = ChargeBoxFactory.create_batch(10, account=account)
    gone = ChargeBox(pk=boxes[-1].pk + 1000, charge_box_id="DELETED", account=account)  # no such row

    async def scenario(db):
        return await asyncio.gather(*(report(db, box) for box in [*boxes, gone]), return_exceptions=True)

    outcomes = run(scenario)
    assert outcomes[:10] == [None] * 10
    assert isinstance(outcomes[10], INTEGRITY_ERRORS)
    assert ConnectorStatus.objects.filter(charge_box__in=boxes).count() == 10
    assert Connector.objects.filter(charge_box__in=boxes).count() == 10


def test_the_write_of_a_caller_that_went_away_is_kept(account):
    first, second = ChargeBoxFactory.create_batch(2, account=account)

    async def scenario(db):
        abandoned = asyncio.ensure_future(report(db, first, "Faulted"))
        await asyncio.sleep(0)  # queued
        abandoned.cancel()
        await report(db, second)

    run(scenario)
    assert Connector.objects.get(charge_box=first).status == "Faulted"
    assert Connector.objects.get(charge_box=second).status == "Charging"


def test_a_refused_write_costs_a_few_transactions_not_one_per_write(account):
    boxes = ChargeBoxFactory.create_batch(64, account=account)
    gone = ChargeBox(pk=boxes[-1].pk + 1000, charge_box_id="DELETED", account=account)

    async def scenario(db):
        outcomes = await asyncio.gather(
            *(report(db, box) for box in [*boxes[:32], gone, *boxes[32:]]), return_exceptions=True
        )
        return outcomes, db.group_commit.batches

    outcomes, batches = run(scenario)
    assert [outcome for outcome in outcomes if outcome is not None] == [outcomes[32]]
    assert isinstance(outcomes[32], INTEGRITY_ERRORS)
    # Halving 65 writes down to the one at fault commits about log2(65) batches, not 64.
    assert batches <= 12
    assert ConnectorStatus.objects.filter(charge_box__in=boxes).count() == 64


def test_writes_survive_the_database_dropping_the_connections(account):
    """A PostgreSQL restart or failover kills the pool's connections: the next batch is tried again on a new one."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL keeps a pool of connections that can be lost")
    first, second = ChargeBoxFactory.create_batch(2, account=account)
    params = {k: v for k, v in connection.get_connection_params().items() if k not in ("cursor_factory", "context")}

    async def scenario(db):
        await report(db, first)  # the pool holds an open connection now
        pool_pids = []
        for _ in range(db.pool.get_stats()["pool_size"]):
            async with db.pool.connection() as conn:
                pool_pids.append(conn.info.backend_pid)
        async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as killer:
            for pid in set(pool_pids):  # another session kills them, as a restart would
                await killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        await report(db, second, "Faulted")

    run(scenario)
    assert Connector.objects.get(charge_box=second).status == "Faulted"


def test_a_batch_runs_each_writes_statements_in_their_order():
    """Statements of a batch go round by round (every write's first, then every write's second, ...), the same SQL
    of a round together; a write's own statements never change order."""
    writes = [
        [("A", [1]), ("B", [1]), ("C", [1])],
        [("B", [2]), ("A", [2])],
        [("A", [3])],
    ]
    assert statement_rounds(writes) == [("A", [[1], [3]]), ("B", [[2]]), ("B", [[1]]), ("A", [[2]]), ("C", [[1]])]
