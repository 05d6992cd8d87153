"""Granting and revoking permissions on nodes, for tags and for tag groups alike."""

from django.db import IntegrityError, transaction

from ocpp_core.models import OcppTag, OcppTagGroup
from powerfill.common.services import model_create, model_update
from sites.models import Node

from .models import OcppTagGroupPermission, OcppTagPermission

PermissionHolder = OcppTag | OcppTagGroup


def _permissions_of(holder: PermissionHolder):
    if isinstance(holder, OcppTag):
        return OcppTagPermission, {"ocpp_tag": holder}
    return OcppTagGroupPermission, {"ocpp_tag_group": holder}


@transaction.atomic
def permission_grant(
    *, holder: PermissionHolder, node: Node, applies_to_all_children: bool = False
) -> tuple[OcppTagPermission | OcppTagGroupPermission, bool]:
    """Grant `holder` (a tag or a tag group) access at `node`; granting again only updates the flag.

    Returns the permission and whether it was created.
    """
    model, holder_field = _permissions_of(holder)
    existing = model.objects.filter(node=node, **holder_field).first()
    if existing is None:
        try:
            with transaction.atomic():
                permission = model_create(
                    model=model, node=node, applies_to_all_children=applies_to_all_children, **holder_field
                )
            return permission, True
        except IntegrityError:  # a concurrent request granted it first: update that one
            existing = model.objects.get(node=node, **holder_field)
    model_update(instance=existing, data={"applies_to_all_children": applies_to_all_children})
    return existing, False


@transaction.atomic
def permission_revoke(*, holder: PermissionHolder, node: Node | None = None) -> int:
    """Revoke the holder's permission at `node`, or all of its permissions. Returns how many went."""
    model, holder_field = _permissions_of(holder)
    permissions = model.objects.filter(**holder_field)
    if node is not None:
        permissions = permissions.filter(node=node)
    deleted, _ = permissions.delete()
    return deleted
