"""manage.py simulate_chargers against a live server: sessions end up as transactions with meter values."""

import pytest
from django.core.management import call_command

from ocpp_core.models import ChargeBox, MeterValue, Transaction

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, OcppTagPermissionFactory

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def test_simulated_chargers_run_sessions(daphne_server, account, capsys):
    node = NodeFactory(account=account)
    for n in (1, 2, 3):
        ChargeBoxFactory(account=account, charge_box_id=f"SIM-{n:04d}", node=node)
    fleet_card = OcppTagFactory(account=account, id_tag="SIM-DRIVER", max_active_transaction_count=-1)
    OcppTagPermissionFactory(ocpp_tag=fleet_card, node=node)

    call_command(
        "simulate_chargers",
        url=daphne_server.replace("http", "ws") + "/ocpp/",
        count=3,
        id_tags="SIM-DRIVER",
        sessions=2,
        session_seconds=1.0,
        meter_interval=0.5,
        pause_seconds=0.1,
        reconnect_probability=0.5,
    )

    assert "sessions 6" in capsys.readouterr().out
    sessions = Transaction.objects.filter(charge_box__charge_box_id__startswith="SIM-")
    assert sessions.count() == 6
    assert all(tx.stopped_at and tx.energy_wh > 0 and tx.start_status == "Accepted" for tx in sessions)
    assert MeterValue.objects.filter(transaction__in=sessions, measurand="Power.Active.Import").exists()
    assert set(
        ChargeBox.objects.filter(charge_box_id__startswith="SIM-").values_list("charge_point_model", flat=True)
    ) == {"Simulator"}


def test_each_simulated_charger_finds_the_tag_allowed_there(daphne_server, account, capsys):
    """As in the README's demo line: several tags, each allowed at some chargers only. Every session still
    happens, with a tag allowed at its charger; the others are refused along the way."""
    lots = {}
    for n in (1, 2, 3):
        lots[n] = NodeFactory(account=account, name=f"Lot {n}")
        ChargeBoxFactory(account=account, charge_box_id=f"SIM-{n:04d}", node=lots[n])
        OcppTagPermissionFactory(ocpp_tag=OcppTagFactory(account=account, id_tag=f"LOT-{n}"), node=lots[n])

    call_command(
        "simulate_chargers",
        url=daphne_server.replace("http", "ws") + "/ocpp/",
        count=3,
        id_tags="LOT-1,LOT-2,LOT-3",
        sessions=3,
        session_seconds=1.0,
        meter_interval=0.5,
        pause_seconds=0.1,
        reconnect_probability=0,
    )

    assert "sessions 9" in capsys.readouterr().out
    sessions = Transaction.objects.filter(charge_box__charge_box_id__startswith="SIM-")
    assert sessions.count() == 9
    assert {(tx.charge_box.charge_box_id[-1], tx.id_tag[-1]) for tx in sessions} == {("1", "1"), ("2", "2"), ("3", "3")}
