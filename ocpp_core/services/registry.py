"""Writes to charge boxes, OCPP tags, tag holders and tag groups. Each validates the whole object first."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.utils import timezone

from powerfill.accounts.models import Account
from powerfill.common.services import model_create, model_update
from roaming.services.session_events import session_stop_record

from ..choices import StopEventActor
from ..models import ChargeBox, OcppTag, OcppTagGroup, Transaction, User
from ..selectors import ocpp_tag_by_id_tag, with_latest_meter
from ..validators import charger_password_validator
from .socket_events import charger_removed_announce, registration_status_announce

UNSET = object()


# Charge boxes


@db_transaction.atomic
def charge_box_create(*, account: Account, charge_box_id: str, auth_password: str | None = None, **fields) -> ChargeBox:
    charge_box = ChargeBox(account=account, charge_box_id=charge_box_id, **fields)
    _set_charger_password(charge_box, auth_password)
    charge_box.full_clean()
    charge_box.save()
    return charge_box


ELECTRICAL_FIELDS = ("max_current_a", "min_current_a", "phases", "phase_rotation", "node")


@db_transaction.atomic
def charge_box_update(*, charge_box: ChargeBox, data: dict) -> ChargeBox:
    """Update operator-managed fields; `auth_password` (None clears it) is hashed, never stored as given."""
    data = dict(data)
    if "auth_password" in data:
        _set_charger_password(charge_box, data.pop("auth_password"))
        charge_box.save(update_fields=["auth_password_hash", "updated_at"])
    status_before = charge_box.registration_status
    model_update(instance=charge_box, data=data)
    if charge_box.registration_status != status_before:
        registration_status_announce(charge_box=charge_box)
    if charge_box.node_id is not None and any(field in data for field in ELECTRICAL_FIELDS):
        # Load management (priority) builds on ocpp_core: imported late, so ocpp_core does not depend on it.
        from priority.services.load_management import nodes_rebalance_after_commit

        nodes_rebalance_after_commit(node_pks=[charge_box.node_id], reason=f"{charge_box.charge_box_id} changed")
    return charge_box


@db_transaction.atomic
def charge_box_delete(*, charge_box: ChargeBox) -> None:
    """Delete a charge box without history. One with transactions is kept: its sessions are billing records."""
    count = charge_box.transactions.count()
    if count:
        raise ValidationError(
            f"Charge box {charge_box.charge_box_id} has {count} transaction(s) and cannot be deleted; "
            "set its registration status to Rejected to refuse it instead."
        )
    charge_box_pk = charge_box.pk
    charge_box.delete()
    charger_removed_announce(charge_box_pk=charge_box_pk)


def _set_charger_password(charge_box: ChargeBox, raw_password: str | None) -> None:
    if raw_password:
        try:
            charger_password_validator(raw_password)
        except ValidationError as error:
            raise ValidationError({"auth_password": error.messages}) from error
    charge_box.set_auth_password(raw_password)


# OCPP tags


@db_transaction.atomic
def ocpp_tag_create(
    *,
    account: Account,
    id_tag: str,
    parent_id_tag: str | None = None,
    expiry_date=None,
    max_active_transaction_count: int = 1,
    note: str = "",
    user: User | None = None,
) -> OcppTag:
    return model_create(
        model=OcppTag,
        account=account,
        id_tag=id_tag,
        parent=_parent_tag(account=account, parent_id_tag=parent_id_tag),
        expiry_date=expiry_date,
        max_active_transaction_count=max_active_transaction_count,
        note=note,
        user=user,
    )


@db_transaction.atomic
def ocpp_tag_update(
    *,
    ocpp_tag: OcppTag,
    parent_id_tag: str | None = None,
    expiry_date=None,
    max_active_transaction_count: int = 1,
    note: str = "",
    user=UNSET,
) -> OcppTag:
    """SteVe's update: every field is replaced (absent ones return to their defaults); the idTag never changes."""
    data = {
        "parent": _parent_tag(account=ocpp_tag.account, parent_id_tag=parent_id_tag),
        "expiry_date": expiry_date,
        "max_active_transaction_count": max_active_transaction_count,
        "note": note,
    }
    if user is not UNSET:
        data["user"] = user
    model_update(instance=ocpp_tag, data=data)
    return ocpp_tag


@db_transaction.atomic
def ocpp_tag_expire(*, ocpp_tag: OcppTag, at=None) -> OcppTag:
    model_update(instance=ocpp_tag, data={"expiry_date": at or timezone.now()})
    return ocpp_tag


@db_transaction.atomic
def ocpp_tag_set_blocked(*, ocpp_tag: OcppTag, blocked: bool) -> OcppTag:
    """Blocked is SteVe's maxActiveTransactionCount = 0; unblocking allows one session at a time again."""
    if blocked != ocpp_tag.blocked:
        model_update(instance=ocpp_tag, data={"max_active_transaction_count": 0 if blocked else 1})
    return ocpp_tag


@db_transaction.atomic
def ocpp_tag_delete(*, ocpp_tag: OcppTag) -> None:
    ocpp_tag.delete()


def _parent_tag(*, account: Account, parent_id_tag: str | None) -> OcppTag | None:
    if not parent_id_tag:
        return None
    parent = ocpp_tag_by_id_tag(account=account, id_tag=parent_id_tag)
    if parent is None:
        raise ValidationError({"parent": f"Unknown parent idTag {parent_id_tag!r}."})
    return parent


# Users (tag holders)


@db_transaction.atomic
def user_create(*, account: Account, ocpp_tags: Iterable[OcppTag] = (), **fields) -> User:
    user = model_create(model=User, account=account, **fields)
    user_set_ocpp_tags(user=user, ocpp_tags=ocpp_tags)
    return user


@db_transaction.atomic
def user_update(*, user: User, data: dict, ocpp_tags: Iterable[OcppTag] | None = None) -> User:
    model_update(instance=user, data=data)
    if ocpp_tags is not None:
        user_set_ocpp_tags(user=user, ocpp_tags=ocpp_tags)
    return user


@db_transaction.atomic
def user_set_ocpp_tags(*, user: User, ocpp_tags: Iterable[OcppTag]) -> None:
    """Make these the user's tags. A tag has at most one holder, so a tag of another user moves to this one."""
    tags = list(ocpp_tags)
    foreign = [tag.id_tag for tag in tags if tag.account_id != user.account_id]
    if foreign:
        raise ValidationError({"ocpp_tags": f"Unknown OCPP tag: {', '.join(foreign)}."})
    now = timezone.now()
    pks = [tag.pk for tag in tags]
    OcppTag.objects.filter(user=user).exclude(pk__in=pks).update(user=None, updated_at=now)
    OcppTag.objects.filter(pk__in=pks).exclude(user=user).update(user=user, updated_at=now)


@db_transaction.atomic
def user_delete(*, user: User) -> None:
    """The user's tags stay, without a holder."""
    user.delete()


# Tag groups


@db_transaction.atomic
def ocpp_tag_group_create(*, account: Account, name: str, ocpp_tags: Iterable[OcppTag] = ()) -> OcppTagGroup:
    group = model_create(model=OcppTagGroup, account=account, name=name)
    ocpp_tag_group_add_tags(group=group, ocpp_tags=ocpp_tags)
    return group


@db_transaction.atomic
def ocpp_tag_group_update(*, group: OcppTagGroup, data: dict) -> OcppTagGroup:
    model_update(instance=group, data=data)
    return group


@db_transaction.atomic
def ocpp_tag_group_add_tags(*, group: OcppTagGroup, ocpp_tags: Iterable[OcppTag]) -> None:
    """Idempotent: tags already in the group stay once."""
    tags = list(ocpp_tags)
    _check_same_account(group, tags)
    group.ocpp_tags.add(*tags)


@db_transaction.atomic
def ocpp_tag_group_remove_tags(*, group: OcppTagGroup, ocpp_tags: Iterable[OcppTag]) -> None:
    """Idempotent: tags not in the group are ignored."""
    group.ocpp_tags.remove(*ocpp_tags)


@db_transaction.atomic
def ocpp_tag_group_set_tags(*, group: OcppTagGroup, ocpp_tags: Iterable[OcppTag]) -> None:
    tags = list(ocpp_tags)
    _check_same_account(group, tags)
    group.ocpp_tags.set(tags)


@db_transaction.atomic
def ocpp_tag_group_delete(*, group: OcppTagGroup) -> None:
    """Its tags stay; its permissions go."""
    group.delete()


def _check_same_account(group: OcppTagGroup, tags: list[OcppTag]) -> None:
    foreign = [tag.id_tag for tag in tags if tag.account_id != group.account_id]
    if foreign:
        raise ValidationError({"ocpp_tags": f"Unknown OCPP tag: {', '.join(foreign)}."})


# Transactions


@db_transaction.atomic
def transaction_stop_manually(*, transaction: Transaction) -> None:
    """An operator closes a transaction the charger never stopped (SteVe's PATCH .../stop): it ends now, at the
    last energy reading we have, stopped by a "manual" actor. The charger is not contacted."""
    tx = with_latest_meter(Transaction.objects.select_for_update()).get(pk=transaction.pk)
    if tx.stopped_at is not None:
        raise ValidationError(f"Transaction {tx.pk} is already stopped.")
    tx.stopped_at = timezone.now()
    tx.meter_stop = round(tx.latest_meter) if tx.latest_meter is not None else tx.meter_start
    tx.stop_reason = "Other"
    tx.stop_event_actor = StopEventActor.MANUAL
    tx.save(update_fields=["stopped_at", "meter_stop", "stop_reason", "stop_event_actor"])
    session_stop_record(transaction_id=tx.pk)  # a roaming session's eMSP gets its end and its CDR
