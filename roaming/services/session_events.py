"""The chargers' hot path (ocpp_core.services.charger_messages) records that a roaming session changed: SQL that
runs in the same database transaction as the change, and writes an outbox row only for a transaction by a partner's
token (for every other one it inserts nothing). The row is built when it is sent (OutboxMessage.build_at_send), from
the session as it is then, by roaming.services.sessions: so changes that come while one is waiting are folded into
it, and the partner gets the latest state, in order."""

from django.db import connection, transaction
from django.utils import timezone

from ocpp_core.db import adapted
from ocpp_core.models import ChargeBox, Transaction
from sites.models import Node

from ..models import Location, OutboxMessage, PartnerToken

SESSION_PUT, CDR_POST = "PUT", "POST"


def session_change_statements(*, transaction_id: int, stopped: bool = False) -> list[tuple[str, list]]:
    """A session PUT for the session's eMSP unless one is already waiting unclaimed; at the stop also the CDR's POST
    (once per session)."""
    now = timezone.now()
    key = session_key(transaction_id)
    statements = [_touch_waiting(key), _enqueue(transaction_id, key, SESSION_PUT, now, waiting_only=True)]
    if stopped:
        statements.append(_enqueue(transaction_id, key, CDR_POST, now, waiting_only=False))
    return statements


def session_key(transaction_id: int) -> str:
    return f"sessions:{transaction_id}"


def _touch_waiting(key: str) -> tuple[str, list]:
    """Lock the message that waits for this session (if one does) until the change commits. The change is folded
    into it instead of queued anew; a worker claiming it meanwhile waits for the commit and then builds it with the
    change (PostgreSQL re-checks the claim's conditions on the committed row), so no change goes unsent."""
    table = OutboxMessage._meta.db_table
    return (
        f"UPDATE {table} SET next_attempt_at = next_attempt_at WHERE key = %s AND method = %s AND sent_at IS NULL "
        "AND gave_up_at IS NULL AND claimed_until IS NULL",
        [key, SESSION_PUT],
    )


def _enqueue(transaction_id: int, key: str, method: str, now, *, waiting_only: bool) -> tuple[str, list]:
    outbox, tokens, transactions = (
        OutboxMessage._meta.db_table,
        PartnerToken._meta.db_table,
        Transaction._meta.db_table,
    )
    already = f"SELECT 1 FROM {outbox} o WHERE o.partner_id = pt.partner_id AND o.key = %s AND o.method = %s"
    if waiting_only:
        already += " AND o.sent_at IS NULL AND o.gave_up_at IS NULL AND o.claimed_until IS NULL"
    boxes, nodes, locations = ChargeBox._meta.db_table, Node._meta.db_table, Location._meta.db_table
    # Only a session OCPI can tell: at a charge box under a published location.
    published = (
        f"SELECT 1 FROM {boxes} cb JOIN {nodes} bn ON bn.id = cb.node_id, {locations} l "
        f"JOIN {nodes} ln ON ln.id = l.node_id WHERE cb.id = t.charge_box_id AND ln.tree_id = bn.tree_id "
        "AND ln.lft <= bn.lft AND ln.rght >= bn.rght"
    )
    sql = (
        f"INSERT INTO {outbox} (partner_id, key, method, build_at_send, created_at, next_attempt_at) "
        f"SELECT pt.partner_id, %s, %s, %s, %s, %s FROM {transactions} t "
        f"JOIN {tokens} pt ON pt.ocpp_tag_id = t.ocpp_tag_id WHERE t.id = %s AND NOT EXISTS ({already}) "
        f"AND EXISTS ({published})"
    )
    return sql, [key, method, True, now, now, transaction_id, key, method]


def session_stop_record(*, transaction_id: int) -> None:
    """The same at a stop made through the ORM (an operator closing a transaction the charger never stopped)."""
    from .outbox import outbox_drain_soon  # outbox builds these messages (sessions): imported here, not at the top

    queued = 0
    with connection.cursor() as cursor:
        for sql, params in session_change_statements(transaction_id=transaction_id, stopped=True):
            cursor.execute(sql, adapted(params))
            queued += max(cursor.rowcount, 0)
    if queued:
        transaction.on_commit(outbox_drain_soon)
