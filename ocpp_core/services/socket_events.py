"""Telling a charger's socket, in whichever server process holds it, about changes made elsewhere (the admin, the
API). Sent once the change is committed: a socket must not act on a change that was rolled back."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from ..channel_groups import charge_box_group
from ..models import ChargeBox


def registration_status_announce(*, charge_box: ChargeBox) -> None:
    """The operator changed the charger's registration status: its socket applies it to the next messages."""
    _send_on_commit(charge_box.pk, {"type": "registration.changed", "status": charge_box.registration_status})


def charger_removed_announce(*, charge_box_pk: int) -> None:
    """The charge box was deleted: its socket closes (the charger is unknown from now on)."""
    _send_on_commit(charge_box_pk, {"type": "charger.removed"})


def _send_on_commit(charge_box_pk: int, event: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        transaction.on_commit(lambda: async_to_sync(layer.group_send)(charge_box_group(charge_box_pk), event))
