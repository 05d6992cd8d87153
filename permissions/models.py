from django.core.exceptions import ValidationError
from django.db import models


class NodePermission(models.Model):
    """Access granted on a site node: to the stations of that node, and with `applies_to_all_children` to the
    stations of its whole subtree. Deleting the node deletes the permission."""

    node = models.ForeignKey("sites.Node", on_delete=models.CASCADE, related_name="%(class)ss")
    applies_to_all_children = models.BooleanField(
        default=False,
        help_text="Also grant access to every node below this one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class OcppTagPermission(NodePermission):
    """An OCPP tag's own permission on a node; checked before the permissions of the tag's groups."""

    ocpp_tag = models.ForeignKey("ocpp_core.OcppTag", on_delete=models.CASCADE, related_name="permissions")

    class Meta:
        verbose_name = "OCPP tag permission"
        constraints = [models.UniqueConstraint(fields=["ocpp_tag", "node"], name="permissions_tag_node_unique")]

    def __str__(self):
        return f"{self.ocpp_tag} → {self.node}{' (and below)' if self.applies_to_all_children else ''}"

    def clean(self):
        if self.ocpp_tag_id and self.node_id and self.ocpp_tag.account_id != self.node.account_id:
            raise ValidationError("The tag and the node belong to different accounts.")


class OcppTagGroupPermission(NodePermission):
    """A tag group's permission on a node: every tag of the group holds it."""

    ocpp_tag_group = models.ForeignKey("ocpp_core.OcppTagGroup", on_delete=models.CASCADE, related_name="permissions")

    class Meta:
        verbose_name = "OCPP tag group permission"
        constraints = [models.UniqueConstraint(fields=["ocpp_tag_group", "node"], name="permissions_group_node_unique")]

    def __str__(self):
        return f"{self.ocpp_tag_group} → {self.node}{' (and below)' if self.applies_to_all_children else ''}"

    def clean(self):
        if self.ocpp_tag_group_id and self.node_id and self.ocpp_tag_group.account_id != self.node.account_id:
            raise ValidationError("The group and the node belong to different accounts.")
