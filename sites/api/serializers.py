from rest_framework import serializers

from powerfill.api.fields import AccountPrimaryKeyRelatedField, StrictCharField, StrictChoiceField, StrictFloatField
from sites.choices import PhaseCount
from sites.models import MAX_TREE_DEPTH, Node


class NodeLimitsSerializer(serializers.Serializer):
    """The electrical limits a node may carry (used by load management)."""

    maxCurrentA = StrictFloatField(source="max_current_a", min_value=0, required=False, allow_null=True)
    phases = StrictChoiceField(choices=PhaseCount.choices, required=False)
    maxPowerKw = StrictFloatField(source="max_power_kw", min_value=0, required=False, allow_null=True)
    phaseAsymmetryLimitA = StrictFloatField(
        source="phase_asymmetry_limit_a", min_value=0, required=False, allow_null=True
    )


class SiteNodeSerializer(NodeLimitsSerializer):
    """A node with its subtree, as GET returns it."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    parentId = serializers.IntegerField(read_only=True, allow_null=True)
    chargeBoxIds = serializers.ListField(child=serializers.CharField(), read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["children"] = SiteNodeSerializer(many=True, read_only=True)
        return fields


class SiteCreateNodeSerializer(NodeLimitsSerializer):
    """A node to create, with `children` nested to any depth (up to the tree depth limit)."""

    name = StrictCharField(max_length=100)
    chargeBoxIds = serializers.ListField(
        source="charge_box_ids", child=StrictCharField(max_length=48), required=False, default=list
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["children"] = SiteCreateNodeSerializer(many=True, required=False, default=list)
        return fields


class SiteCreateSerializer(SiteCreateNodeSerializer):
    parentId = AccountPrimaryKeyRelatedField(
        source="parent",
        queryset=Node.objects.all(),
        label_in_errors="node",
        required=False,
        allow_null=True,
        help_text="Graft the new tree under this node.",
    )

    def to_internal_value(self, data):
        # Reject absurd nesting before DRF's recursive validation walks it.
        if _nesting_depth(data) > MAX_TREE_DEPTH:
            raise serializers.ValidationError({"children": f"Site trees are limited to {MAX_TREE_DEPTH} levels."})
        return super().to_internal_value(data)


class SiteUpdateSerializer(NodeLimitsSerializer):
    """Any of: a new name, a new parent (null: make it a root), the complete set of its charge boxes, limits."""

    name = StrictCharField(max_length=100, required=False)
    parentId = AccountPrimaryKeyRelatedField(
        source="parent",
        queryset=Node.objects.all(),
        label_in_errors="node",
        required=False,
        allow_null=True,
        help_text="Move the node (with its subtree) under this node; null makes it a root.",
    )
    chargeBoxIds = serializers.ListField(source="charge_box_ids", child=StrictCharField(max_length=48), required=False)


def _nesting_depth(data) -> int:
    depth, level = 0, [data]
    while level:
        depth += 1
        level = [
            child
            for node in level
            if isinstance(node, dict) and isinstance(node.get("children"), list)
            for child in node["children"]
        ]
    return depth
