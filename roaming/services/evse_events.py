"""The chargers' hot path records that an EVSE of a published location changed (a StatusNotification, the charger
connecting or going offline): SQL in the same database transaction as the change, writing an outbox row per partner
eMSP of the account, and only where the charge box is under a published location (for every other charger it
inserts nothing). The PATCH is built when it is sent (roaming.services.evses), from the EVSE as it is then, so a
burst of status changes becomes one message."""

from django.db import connection, transaction
from django.utils import timezone

from ocpp_core.db import adapted
from ocpp_core.models import ChargeBox, Connector
from sites.models import Node

from ..choices import OcpiRole, RegistrationState
from ..models import Location, OutboxMessage, Party, PartyRole

EVSE_PATCH = "PATCH"


def evse_change_statements(*, charge_box_pk: int, connector_id: int | None = None) -> list[tuple[str, list]]:
    """An EVSE status PATCH for each partner eMSP, unless one is waiting unclaimed; connector_id None: every EVSE
    of the charge box (it connected or went offline)."""
    now = timezone.now()
    outbox, parties, roles = OutboxMessage._meta.db_table, Party._meta.db_table, PartyRole._meta.db_table
    connectors, boxes, nodes = Connector._meta.db_table, ChargeBox._meta.db_table, Node._meta.db_table
    locations = Location._meta.db_table
    key = "'evses:' || c.id"
    sql = (
        f"INSERT INTO {outbox} (partner_id, key, method, build_at_send, created_at, next_attempt_at) "
        f"SELECT p.id, {key}, %s, %s, %s, %s FROM {connectors} c "
        f"JOIN {boxes} cb ON cb.id = c.charge_box_id JOIN {nodes} bn ON bn.id = cb.node_id "
        f"JOIN {parties} p ON p.account_id = cb.account_id AND p.state = %s "
        "WHERE c.charge_box_id = %s AND c.connector_id > 0"
        + (" AND c.connector_id = %s" if connector_id is not None else "")
        + f" AND EXISTS (SELECT 1 FROM {roles} r WHERE r.partner_id = p.id AND r.role = %s)"
        f" AND EXISTS (SELECT 1 FROM {locations} l JOIN {nodes} ln ON ln.id = l.node_id WHERE ln.tree_id = bn.tree_id"
        " AND ln.lft <= bn.lft AND ln.rght >= bn.rght)"
        f" AND NOT EXISTS (SELECT 1 FROM {outbox} o WHERE o.partner_id = p.id AND o.key = {key} AND o.method = %s"
        " AND o.sent_at IS NULL AND o.gave_up_at IS NULL AND o.claimed_until IS NULL)"
    )
    params = [EVSE_PATCH, True, now, now, RegistrationState.REGISTERED.value, charge_box_pk]
    if connector_id is not None:
        params.append(connector_id)
    params += [OcpiRole.EMSP.value, EVSE_PATCH]
    # First lock the messages that wait for these EVSEs (see session_events._touch_waiting): a worker claiming one
    # waits for this change to commit and then sends the status with it.
    touch = (
        f"UPDATE {outbox} SET next_attempt_at = next_attempt_at WHERE method = %s AND sent_at IS NULL "
        f"AND gave_up_at IS NULL AND claimed_until IS NULL AND key IN (SELECT {key} FROM {connectors} c "
        "WHERE c.charge_box_id = %s" + (" AND c.connector_id = %s)" if connector_id is not None else ")")
    )
    touch_params = [EVSE_PATCH, charge_box_pk, *([connector_id] if connector_id is not None else [])]
    return [(touch, touch_params), (sql, params)]


def evse_changes_record(*, charge_box_pk: int) -> None:
    """The same, through the ORM's connection (the charger connected or disconnected: rare, ORM code)."""
    from .outbox import outbox_drain_soon  # outbox builds these messages (evses): imported here, not at the top

    queued = 0
    with connection.cursor() as cursor:
        for sql, params in evse_change_statements(charge_box_pk=charge_box_pk):
            cursor.execute(sql, adapted(params))
            queued += max(cursor.rowcount, 0)
    if queued:
        transaction.on_commit(outbox_drain_soon)
