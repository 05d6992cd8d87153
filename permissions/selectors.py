"""The authorization resolver: may tag X charge at station Y?

The rule (platform docs, API.md): Y must be assigned to a node N. X may charge when (1) X holds a permission on N,
or on an ancestor of N with `applies_to_all_children`, else (2) one of X's groups does. Tag first, then groups;
among several permissions the one on the deepest node answers. A station on no node admits nobody.

Every question asked here ("may X charge at Y", "who may charge at Y", "where may X charge") is answered by the
same predicate, `_reaches`, over the nested-set numbers of the tree: an ancestor A of N is the node of the same
tree with A.lft < N.lft and A.rght > N.rght. So the depth of the tree never adds queries: authorizing a tag is one
query (the tag, both permission lookups and its running transactions as subqueries).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from ocpp.v16.enums import AuthorizationStatus

from ocpp_core.choices import ReservationStatus
from ocpp_core.models import ChargeBox, OcppTag, Reservation, Transaction
from sites.models import Node

from .choices import PermissionVia
from .models import OcppTagGroupPermission, OcppTagPermission


def _reaches(*, node_id, tree_id, lft, rght) -> Q:
    """Permissions (rows of either permission table) that reach node N: held on N itself, or held on an ancestor
    of N with applies_to_all_children. The arguments are N's values, or OuterRef expressions naming them."""
    return Q(node_id=node_id) | Q(
        applies_to_all_children=True, node__tree_id=tree_id, node__lft__lt=lft, node__rght__gt=rght
    )


def _reaching_node(permissions: QuerySet, **node) -> Subquery:
    """The node of the deepest permission in `permissions` that reaches N, or NULL."""
    return Subquery(permissions.filter(_reaches(**node)).order_by("-node__lft").values("node_id")[:1])


def _node_values(node: Node) -> dict:
    return {"node_id": node.pk, "tree_id": node.tree_id, "lft": node.lft, "rght": node.rght}


def _annotate_reach(tags: QuerySet[OcppTag], node: Node) -> QuerySet[OcppTag]:
    """Annotate each tag with the nodes through which its own permissions and its groups' permissions reach N."""
    values = _node_values(node)
    return tags.annotate(
        via_tag_node=_reaching_node(OcppTagPermission.objects.filter(ocpp_tag=OuterRef("pk")), **values),
        via_group_node=_reaching_node(
            OcppTagGroupPermission.objects.filter(ocpp_tag_group__ocpp_tags=OuterRef("pk")), **values
        ),
    )


@dataclass(frozen=True)
class PermissionDecision:
    """Why a tag may (or may not) charge at a station: via its own permission or a group's, held on `node_id`."""

    allowed: bool
    via: PermissionVia | None = None
    node_id: int | None = None


@dataclass(frozen=True)
class AuthorizedTag:
    """The tag as the authorization statement read it."""

    pk: int
    id_tag: str
    parent_id: int | None
    parent_id_tag: str | None
    expiry_date: datetime | None
    max_active_transaction_count: int
    active_transaction_count: int

    @property
    def blocked(self) -> bool:
        return self.max_active_transaction_count == 0

    def is_expired(self, at: datetime | None = None) -> bool:
        return self.expiry_date is not None and self.expiry_date <= (at or timezone.now())


@dataclass(frozen=True)
class TagAuthorization:
    """What OCPP's idTagInfo answers for a tag at a station, with the permission behind it."""

    status: AuthorizationStatus
    permission: PermissionDecision
    ocpp_tag: AuthorizedTag | None = None
    station_has_reservations: bool = False  # any accepted, unexpired reservation at the station (any tag)

    @property
    def parent_id_tag(self) -> str | None:
        return self.ocpp_tag.parent_id_tag if self.ocpp_tag else None

    @property
    def expiry_date(self) -> datetime | None:
        return self.ocpp_tag.expiry_date if self.ocpp_tag else None


def _decision(row) -> PermissionDecision:
    if row.via_tag_node is not None:
        return PermissionDecision(allowed=True, via=PermissionVia.OCPP_TAG, node_id=row.via_tag_node)
    if row.via_group_node is not None:
        return PermissionDecision(allowed=True, via=PermissionVia.OCPP_TAG_GROUP, node_id=row.via_group_node)
    return PermissionDecision(allowed=False)


def tag_authorization(*, id_tag: str, charge_box: ChargeBox, at: datetime | None = None) -> TagAuthorization:
    """Authorize, StartTransaction and RemoteStartTransaction ask this: one SQL statement, whatever the depth.

    unknown tag -> Invalid; blocked -> Blocked; expired -> Expired; running transactions >= its maximum ->
    ConcurrentTx; no permission at this station -> Invalid; else Accepted. The station's node is read in the same
    statement, so a station moved a moment ago is judged where it is now. The consumers run the same statement
    on their own database path (ocpp_core.db) and read its row with authorization_from_row.
    """
    sql, params = authorization_statement(id_tag=id_tag, charge_box=charge_box)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p for p in params]
        )
        return authorization_from_row(cursor.fetchone(), at)


def authorization_statement(*, id_tag: str, charge_box: ChargeBox) -> tuple[str, list]:
    return _authorization_sql(), [timezone.now(), charge_box.pk, charge_box.account_id, id_tag.lower()]


@dataclass(frozen=True)
class _Row:
    pk: int
    id_tag: str
    parent_id: int | None
    expiry_date: datetime | None
    max_active_transaction_count: int
    parent_id_tag: str | None
    active_transaction_count: int
    via_tag_node: int | None
    via_group_node: int | None
    station_reserved: bool


def authorization_from_row(row: tuple | None, at: datetime | None = None) -> TagAuthorization:
    if row is None:
        return TagAuthorization(status=AuthorizationStatus.invalid, permission=PermissionDecision(allowed=False))
    row = _Row(*row)
    tag = AuthorizedTag(
        pk=row.pk,
        id_tag=row.id_tag,
        parent_id=row.parent_id,
        parent_id_tag=row.parent_id_tag,
        expiry_date=_aware(row.expiry_date),
        max_active_transaction_count=row.max_active_transaction_count,
        active_transaction_count=row.active_transaction_count,
    )
    permission = _decision(row)
    if tag.blocked:
        status = AuthorizationStatus.blocked
    elif tag.is_expired(at):
        status = AuthorizationStatus.expired
    elif 0 <= tag.max_active_transaction_count <= tag.active_transaction_count:
        status = AuthorizationStatus.concurrent_tx
    elif not permission.allowed:
        status = AuthorizationStatus.invalid
    else:
        status = AuthorizationStatus.accepted
    return TagAuthorization(
        status=status, permission=permission, ocpp_tag=tag, station_has_reservations=bool(row.station_reserved)
    )


def _aware(value) -> datetime | None:
    """SQLite hands raw statements' timestamps back naive (or as text), in UTC as Django stores them."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


@cache
def _authorization_sql() -> str:
    """The rule of `_reaches`, written out in SQL for the hot path.

    Every Authorize and StartTransaction runs this. Composing the same query with the ORM costs about 4 ms of
    Python per call; this statement, prepared once per connection, costs about 0.3 ms (tests/benchmarks). The
    property test holds it and the ORM form used by the list selectors to the same naive tree walk.
    """
    tag, node = OcppTag._meta.db_table, Node._meta.db_table
    charge_box, transaction = ChargeBox._meta.db_table, Transaction._meta.db_table
    tag_permission, group_permission = OcppTagPermission._meta.db_table, OcppTagGroupPermission._meta.db_table
    membership = OcppTag.groups.through._meta.db_table
    reservation = Reservation._meta.db_table  # the same statement says whether the station has reservations

    def reaches(permission: str) -> str:
        return (
            f"({permission}.node_id = station.id OR ({permission}.applies_to_all_children"
            " AND holder.tree_id = station.tree_id AND holder.lft < station.lft AND holder.rght > station.rght))"
        )

    return f"""
        SELECT tag.id, tag.id_tag, tag.parent_id, tag.expiry_date, tag.max_active_transaction_count,
            parent.id_tag,
            (SELECT COUNT(*) FROM {transaction} running
              WHERE running.ocpp_tag_id = tag.id AND running.stopped_at IS NULL),
            (SELECT own.node_id FROM {tag_permission} own JOIN {node} holder ON holder.id = own.node_id
              WHERE own.ocpp_tag_id = tag.id AND {reaches("own")}
              ORDER BY holder.lft DESC LIMIT 1),
            (SELECT shared.node_id FROM {group_permission} shared JOIN {node} holder ON holder.id = shared.node_id
               JOIN {membership} member ON member.ocpptaggroup_id = shared.ocpp_tag_group_id
              WHERE member.ocpptag_id = tag.id AND {reaches("shared")}
              ORDER BY holder.lft DESC LIMIT 1),
            EXISTS(SELECT 1 FROM {reservation} held WHERE held.charge_box_id = box.id
              AND held.status = '{ReservationStatus.ACCEPTED}' AND held.expiry > %s)
        FROM {tag} tag
        LEFT JOIN {tag} parent ON parent.id = tag.parent_id
        LEFT JOIN {charge_box} box ON box.id = %s
        LEFT JOIN {node} station ON station.id = box.node_id
        WHERE tag.account_id = %s AND LOWER(tag.id_tag) = %s
    """


def tag_may_charge(*, id_tag: str, charge_box: ChargeBox) -> PermissionDecision:
    """The permission rule alone (no blocked/expired/concurrency checks)."""
    return tag_authorization(id_tag=id_tag, charge_box=charge_box).permission


def tags_allowed_at(*, charge_box: ChargeBox) -> QuerySet[OcppTag]:
    """Who may charge here: the account's tags whose own or group permission reaches the station's node, each
    annotated with `via_tag_node` / `via_group_node`. Empty for a station on no node."""
    if charge_box.node_id is None:
        return OcppTag.objects.none()
    reaching = _reaches(**_node_values(charge_box.node))
    # Start from the permissions that reach the node, so the cost follows the permissions, not the tag count.
    holders = OcppTagPermission.objects.filter(reaching).values("ocpp_tag_id")
    groups = OcppTagGroupPermission.objects.filter(reaching).values("ocpp_tag_group_id")
    members = OcppTag.groups.through.objects.filter(ocpptaggroup_id__in=groups).values("ocpptag_id")
    tags = OcppTag.objects.filter(account_id=charge_box.account_id).filter(Q(pk__in=holders) | Q(pk__in=members))
    return _annotate_reach(tags, charge_box.node)


def charge_boxes_allowed_for(*, ocpp_tag: OcppTag) -> QuerySet[ChargeBox]:
    """Where may this tag charge: the account's stations whose node its own or a group permission reaches,
    each annotated with `via_tag_node` / `via_group_node`."""
    station_node = {
        "node_id": OuterRef("node_id"),
        "tree_id": OuterRef("node__tree_id"),
        "lft": OuterRef("node__lft"),
        "rght": OuterRef("node__rght"),
    }
    charge_boxes = ChargeBox.objects.filter(account_id=ocpp_tag.account_id, node__isnull=False)
    charge_boxes = charge_boxes.annotate(
        via_tag_node=_reaching_node(OcppTagPermission.objects.filter(ocpp_tag=ocpp_tag), **station_node),
        via_group_node=_reaching_node(
            OcppTagGroupPermission.objects.filter(ocpp_tag_group__ocpp_tags=ocpp_tag), **station_node
        ),
    )
    return charge_boxes.filter(Q(via_tag_node__isnull=False) | Q(via_group_node__isnull=False))


def permission_via(row) -> PermissionDecision:
    """The decision for a row annotated by tags_allowed_at or charge_boxes_allowed_for."""
    return _decision(row)


def ocpp_tag_permission_list(*, ocpp_tag: OcppTag) -> QuerySet[OcppTagPermission]:
    return OcppTagPermission.objects.filter(ocpp_tag=ocpp_tag).order_by("node__tree_id", "node__lft")


def ocpp_tag_group_permission_list(*, group) -> QuerySet[OcppTagGroupPermission]:
    return OcppTagGroupPermission.objects.filter(ocpp_tag_group=group).order_by("node__tree_id", "node__lft")
