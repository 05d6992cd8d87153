from rest_framework import serializers

from ocpp_core.models import OcppTag, OcppTagGroup
from powerfill.api.fields import AccountPrimaryKeyRelatedField, StrictBooleanField, StrictCharField
from sites.models import Node


class _PermissionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    nodeId = AccountPrimaryKeyRelatedField(source="node", queryset=Node.objects.all(), label_in_errors="node")
    appliesToAllChildren = StrictBooleanField(
        source="applies_to_all_children",
        required=False,
        default=False,
        help_text="Also grant access to every node below this one.",
    )


class OcppTagPermissionSerializer(_PermissionSerializer):
    ocppTagPk = AccountPrimaryKeyRelatedField(
        source="ocpp_tag", queryset=OcppTag.objects.all(), label_in_errors="OCPP tag"
    )


class OcppTagGroupPermissionSerializer(_PermissionSerializer):
    ocppTagGroupPk = AccountPrimaryKeyRelatedField(
        source="ocpp_tag_group", queryset=OcppTagGroup.objects.all(), label_in_errors="OCPP tag group"
    )


class NodeQuerySerializer(serializers.Serializer):
    nodeId = AccountPrimaryKeyRelatedField(source="node", queryset=Node.objects.all(), label_in_errors="node")


class PermissionCheckQuerySerializer(serializers.Serializer):
    idTag = StrictCharField(max_length=20)
    chargeBoxId = StrictCharField(max_length=48)


class PermissionCheckSerializer(serializers.Serializer):
    allowed = serializers.BooleanField(help_text="Does the tag hold a permission (its own or a group's) here?")
    via = serializers.ChoiceField(choices=["ocppTag", "ocppTagGroup"], allow_null=True)
    nodeId = serializers.IntegerField(allow_null=True, help_text="The node holding the deciding permission.")
    status = serializers.CharField(
        help_text="What OCPP Authorize would answer now: Accepted, Invalid, Blocked, Expired or ConcurrentTx."
    )
