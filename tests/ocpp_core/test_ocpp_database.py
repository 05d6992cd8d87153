"""The OCPP database facade (ocpp_core.db) on the real database of the run: a session's transaction commits its
statements together or not at all."""

import pytest

from ocpp_core.models import Transaction
from tests.factories import ChargeBoxFactory

from .scenarios import run

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = Transaction._meta.db_table
# A session of a charge box (None is refused: a transaction belongs to a charge box) with a meter start.
INSERT = (
    f"INSERT INTO {TABLE} (charge_box_id, connector_id, id_tag, meter_start, started_at, start_status, "
    "stop_reason, stop_id_tag, stop_event_actor, created_at) "
    "VALUES (%s, 1, 'TAG', %s, CURRENT_TIMESTAMP, 'Accepted', '', '', '', CURRENT_TIMESTAMP)"
)
COUNT = f"SELECT COUNT(*) FROM {TABLE} WHERE charge_box_id = %s"


def test_a_transaction_that_fails_leaves_nothing_behind(account):
    charge_box = ChargeBoxFactory(account=account)

    async def scenario(db):
        with pytest.raises(Exception, match="(?i)null|not-null|constraint"):
            async with db.session() as statements, statements.transaction():
                await statements.execute(INSERT, [charge_box.pk, 0])
                await statements.execute(INSERT, [None, 0])  # refused
        async with db.session() as statements, statements.transaction():
            await statements.execute(INSERT, [charge_box.pk, 0])
        async with db.session() as statements:  # the connection is usable after the failed transaction
            return await statements.fetchone(COUNT, [charge_box.pk])

    assert run(scenario) == (1,)
    assert Transaction.objects.filter(charge_box=charge_box).count() == 1


def test_a_pipelined_transaction_that_fails_leaves_nothing_behind(account):
    """StartTransaction and StopTransaction pipeline their transactions: a refused statement is reported only at the
    next wait, after later statements (and the COMMIT) were already sent, and must still undo the whole
    transaction and leave the connection clean for the next message."""
    charge_box = ChargeBoxFactory(account=account)

    async def scenario(db):
        async with db.session() as statements:
            with pytest.raises(Exception, match="(?i)null|not-null|constraint"):
                async with statements.pipeline(), statements.transaction():
                    await statements.execute(INSERT, [charge_box.pk, 1])
                    await statements.execute(INSERT, [None, 2])  # refused
                    await statements.execute(INSERT, [charge_box.pk, 3])
            # The same connection serves the next message: the failed transaction was rolled back, not left open.
            async with statements.pipeline(), statements.transaction():
                await statements.execute(INSERT, [charge_box.pk, 4])
                await statements.execute(INSERT, [charge_box.pk, 5])
            return await statements.fetchone(COUNT, [charge_box.pk])

    assert run(scenario) == (2,)
    assert sorted(Transaction.objects.filter(charge_box=charge_box).values_list("meter_start", flat=True)) == [4, 5]
