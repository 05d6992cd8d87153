"""The OCPP database facade (ocpp_core.db) on the real database of the run: a session's transaction commits its
statements together or not at all."""

import asyncio

import pytest

from ocpp_core.db import ocpp_database, ocpp_database_close
from ocpp_core.models import Transaction
from tests.factories import ChargeBoxFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario):
    async def with_cleanup():
        try:
            return await scenario(ocpp_database())
        finally:
            await ocpp_database_close()

    return asyncio.run(with_cleanup())


def test_a_transaction_that_fails_leaves_nothing_behind(account):
    charge_box = ChargeBoxFactory(account=account)
    table = Transaction._meta.db_table
    insert = (
        f"INSERT INTO {table} (charge_box_id, connector_id, id_tag, meter_start, started_at, start_status, "
        "stop_reason, stop_id_tag, stop_event_actor, created_at) "
        "VALUES (%s, 1, 'TAG', 0, CURRENT_TIMESTAMP, 'Accepted', '', '', '', CURRENT_TIMESTAMP)"
    )

    async def scenario(db):
        with pytest.raises(Exception, match="(?i)null|not-null|constraint"):
            async with db.session() as statements, statements.transaction():
                await statements.execute(insert, [charge_box.pk])
                await statements.execute(insert, [None])  # refused: a transaction belongs to a charge box
        async with db.session() as statements, statements.transaction():
            await statements.execute(insert, [charge_box.pk])
        async with db.session() as statements:  # the connection is usable after the failed transaction
            return await statements.fetchone(f"SELECT COUNT(*) FROM {table} WHERE charge_box_id = %s", [charge_box.pk])

    assert run(scenario) == (1,)
    assert Transaction.objects.filter(charge_box=charge_box).count() == 1


def test_a_pipelined_transaction_that_fails_leaves_nothing_behind(account, caplog):
    """StartTransaction and StopTransaction pipeline their transactions: a refused statement is reported only at the
    next wait, after later statements (and the COMMIT) were already sent, and must still undo the whole
    transaction and leave the connection clean for the next message."""
    charge_box = ChargeBoxFactory(account=account)
    table = Transaction._meta.db_table
    insert = (
        f"INSERT INTO {table} (charge_box_id, connector_id, id_tag, meter_start, started_at, start_status, "
        "stop_reason, stop_id_tag, stop_event_actor, created_at) "
        "VALUES (%s, 1, 'TAG', %s, CURRENT_TIMESTAMP, 'Accepted', '', '', '', CURRENT_TIMESTAMP)"
    )

    async def scenario(db):
        with pytest.raises(Exception, match="(?i)null|not-null|constraint"):
            async with db.session() as statements, statements.pipeline(), statements.transaction():
                await statements.execute(insert, [charge_box.pk, 1])
                await statements.execute(insert, [None, 2])  # refused: a transaction belongs to a charge box
                await statements.execute(insert, [charge_box.pk, 3])
        async with db.session() as statements, statements.pipeline(), statements.transaction():
            await statements.execute(insert, [charge_box.pk, 4])
            await statements.execute(insert, [charge_box.pk, 5])
        async with db.session() as statements:
            return await statements.fetchone(f"SELECT COUNT(*) FROM {table} WHERE charge_box_id = %s", [charge_box.pk])

    assert run(scenario) == (2,)
    assert sorted(Transaction.objects.filter(charge_box=charge_box).values_list("meter_start", flat=True)) == [4, 5]
    assert "rolling back returned connection" not in caplog.text
