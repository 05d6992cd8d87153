"""Which chargers roaming can concern at all, for the chargers' hot path (ocpp_core.services.charger_messages).

The hot path's roaming SQL (an EVSE's status for partner eMSPs, a roaming session's PUT and CDR, a partner token's
real-time authorization) finds what to do by itself, in the same transaction as the charger's write, and inserts
nothing for a charger that no partner hears of. Run for every charger, that SQL was more than a third of the
statements of a mixed charging session (tests/e2e/test_hot_path_costs.py). All of it needs a partner of the
charge box's account (tags, and with them partner tokens, belong to the account of the charge boxes they charge at),
so it is left out where the account has none: a fact kept per server process (ocpp_core.charger_directory).

An account's first partner, created in another server process, is seen within OCPP_CHARGER_FACTS_REFRESH_SECONDS:
a partner is only invited then, and there is nothing to send it before it registered and exchanged tokens. A
partner created or deleted in this process is seen at once (roaming.receivers).
"""

from ocpp_core.charger_directory import ChargerDirectory, per_event_loop
from ocpp_core.models import ChargeBox

from ..models import Party


def charge_boxes_with_partners(*, charge_box_pks=None) -> dict[int, bool]:
    """The charge boxes (all, or of `charge_box_pks`) whose account has an OCPI partner. One query."""
    boxes = ChargeBox.objects.filter(account_id__in=Party.objects.values("account_id"))
    if charge_box_pks is not None:
        boxes = boxes.filter(pk__in=list(charge_box_pks))
    return dict.fromkeys(boxes.values_list("pk", flat=True), True)


_roaming_charge_boxes = per_event_loop(
    lambda: ChargerDirectory(name="the charge boxes of accounts with OCPI partners", read=charge_boxes_with_partners)
)


def roaming_concerns_known(*, charge_box_pk: int) -> bool | None:
    """roaming_concerns() where it is known without reading; None where it is not."""
    directory = _roaming_charge_boxes()
    if directory.knows(charge_box_pk):
        return directory.known_value(charge_box_pk) is not None
    return None


async def roaming_concerns(*, charge_box_pk: int) -> bool:
    """May a partner hear of what happens at this charger? (No while that cannot be read: partners pull.)"""
    known = roaming_concerns_known(charge_box_pk=charge_box_pk)
    if known is not None:
        return known
    return await _roaming_charge_boxes().value_of(charge_box_pk) is not None
