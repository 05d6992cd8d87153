"""The OCPP frame log (ocpp_core.services.message_log) on the real database: a frame the database cannot take, or
one of a charger deleted meanwhile, costs only itself."""

import asyncio

import pytest

from ocpp_core.choices import MessageDirection
from ocpp_core.db import ocpp_database_close
from ocpp_core.models import OcppMessage
from ocpp_core.services.message_log import MessageLog
from tests.factories import ChargeBoxFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_frames_of_a_deleted_charger_and_broken_frames_do_not_take_the_batch_down(account, settings):
    settings.OCPP_MESSAGE_LOG_ENABLED = True
    kept, deleted = ChargeBoxFactory.create_batch(2, account=account)
    deleted_pk = deleted.pk
    deleted.delete()
    log = MessageLog()

    async def scenario():
        try:
            for index in range(20):
                log.record(
                    charge_box_pk=kept.pk, direction=MessageDirection.RECEIVED, frame=f'[2,"{index}","Heartbeat",{{}}]'
                )
            log.record(charge_box_pk=deleted_pk, direction=MessageDirection.RECEIVED, frame='[2,"x","Heartbeat",{}]')
            log.record(charge_box_pk=kept.pk, direction=MessageDirection.RECEIVED, frame="broken\x00frame")
            await log.flush()
        finally:
            await ocpp_database_close()

    asyncio.run(scenario())
    frames = list(OcppMessage.objects.filter(charge_box=kept).values_list("payload", flat=True))
    assert len(frames) == 21
    assert "broken\\u0000frame" in frames
    assert not OcppMessage.objects.filter(charge_box_id=deleted_pk).exists()


def test_frames_recorded_while_a_flush_writes_are_flushed_too(account, settings):
    settings.OCPP_MESSAGE_LOG_ENABLED = True
    box = ChargeBoxFactory(account=account)
    log = MessageLog()

    async def scenario():
        try:
            log.record(charge_box_pk=box.pk, direction=MessageDirection.RECEIVED, frame="first")
            while log._pending:  # until the scheduled flush took "first" and is writing it
                await asyncio.sleep(0)
            assert not log._flusher.done()
            log.record(charge_box_pk=box.pk, direction=MessageDirection.SENT, frame="second")
            for _ in range(50):  # no further record() comes to schedule another flush
                await asyncio.sleep(0.1)
                if not log._pending and log._flusher.done():
                    return
        finally:
            await ocpp_database_close()

    asyncio.run(scenario())
    assert sorted(OcppMessage.objects.filter(charge_box=box).values_list("payload", flat=True)) == ["first", "second"]
