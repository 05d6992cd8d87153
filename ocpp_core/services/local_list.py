"""The local authorization list a charger keeps for offline use, built from the permission model: the tags that
may charge at that charger, each with the status Authorize would give it (Accepted, Blocked or Expired)."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from ocpp.v16.enums import AuthorizationStatus, UpdateType

from permissions.selectors import tags_allowed_at

from ..models import ChargeBox, LocalAuthListEntry, OcppTag
from ..timestamps import ocpp_time, parse_charger_time


@dataclass(frozen=True)
class ListEntry:
    id_tag: str
    status: str
    expiry_date: str | None = None  # OCPP dateTime
    parent_id_tag: str = ""

    def as_ocpp(self) -> dict:
        info = {"status": self.status}
        if self.expiry_date:
            info["expiryDate"] = self.expiry_date
        if self.parent_id_tag:
            info["parentIdTag"] = self.parent_id_tag
        return {"idTag": self.id_tag, "idTagInfo": info}


def _entry(tag: OcppTag, now) -> ListEntry:
    if tag.blocked:
        status = AuthorizationStatus.blocked
    elif tag.is_expired(now):
        status = AuthorizationStatus.expired
    else:
        status = AuthorizationStatus.accepted
    return ListEntry(
        id_tag=tag.id_tag,
        status=status,
        expiry_date=ocpp_time(tag.expiry_date) if tag.expiry_date else None,
        parent_id_tag=tag.parent.id_tag if tag.parent_id else "",
    )


def local_list_desired(*, charge_box: ChargeBox, id_tags: list[str] | None = None) -> dict[str, ListEntry]:
    """What the charger's list should hold: every tag allowed here, or the named tags of the account."""
    now = timezone.now()
    if id_tags is None:
        # A roaming token its eMSP wants asked every time (whitelist NEVER) must not be accepted offline.
        tags = tags_allowed_at(charge_box=charge_box).exclude(partner_token__whitelist="NEVER").select_related("parent")
    else:
        tags = OcppTag.objects.filter(account_id=charge_box.account_id, id_tag__in=id_tags).select_related("parent")
    return {tag.id_tag: _entry(tag, now) for tag in tags}


@dataclass(frozen=True)
class LocalListUpdate:
    """A SendLocalList request; in a differential update an entry without idTagInfo deletes that tag."""

    update_type: UpdateType
    list_version: int
    entries: list[dict]


def local_list_update_build(
    *,
    charge_box: ChargeBox,
    update_type: UpdateType,
    list_version: int | None = None,
    add_id_tags: list[str] | None = None,
    delete_id_tags: list[str] | None = None,
    send_empty_when_full: bool = False,
) -> LocalListUpdate:
    version = list_version if list_version is not None else charge_box.local_list_version + 1
    if update_type == UpdateType.full:
        wanted = {} if send_empty_when_full else local_list_desired(charge_box=charge_box, id_tags=add_id_tags)
        return LocalListUpdate(update_type, version, [entry.as_ocpp() for entry in wanted.values()])

    current = {
        row.id_tag: ListEntry(
            row.id_tag, row.status, ocpp_time(row.expiry_date) if row.expiry_date else None, row.parent_id_tag
        )
        for row in LocalAuthListEntry.objects.filter(charge_box=charge_box)
    }
    if add_id_tags is None and delete_id_tags is None:
        desired = local_list_desired(charge_box=charge_box)
        additions = {k: v for k, v in desired.items() if current.get(k) != v}
        deletions = set(current) - set(desired)
    else:
        additions = local_list_desired(charge_box=charge_box, id_tags=add_id_tags or [])
        deletions = set(delete_id_tags or []) - set(additions)
    entries = [entry.as_ocpp() for entry in additions.values()] + [{"idTag": id_tag} for id_tag in sorted(deletions)]
    return LocalListUpdate(update_type, version, entries)


@transaction.atomic
def local_list_accepted(
    *, charge_box: ChargeBox, update_type: UpdateType, list_version: int, entries: list[dict]
) -> None:
    """The charger accepted a SendLocalList: apply what was sent to our copy of its list."""
    if update_type == UpdateType.full:
        LocalAuthListEntry.objects.filter(charge_box=charge_box).delete()
    for entry in entries:
        info = entry.get("idTagInfo")
        if info is None:
            LocalAuthListEntry.objects.filter(charge_box=charge_box, id_tag=entry["idTag"]).delete()
            continue
        LocalAuthListEntry.objects.update_or_create(
            charge_box=charge_box,
            id_tag=entry["idTag"],
            defaults={
                "status": info["status"],
                "expiry_date": parse_charger_time(info.get("expiryDate")),
                "parent_id_tag": info.get("parentIdTag", ""),
            },
        )
    ChargeBox.objects.filter(pk=charge_box.pk).update(local_list_version=list_version)
