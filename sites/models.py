from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from mptt.models import MPTTModel, TreeForeignKey

from powerfill.accounts.models import Account

from .choices import PhaseCount

# Deeper trees make no sense for a site and would exhaust recursion when rendered as nested JSON.
MAX_TREE_DEPTH = 32


class Node(MPTTModel):
    """A part of a site (campus, building, floor, wing, parking lot) in a tree of any depth (nested sets, mptt).

    Charge boxes are assigned to nodes, permissions are granted on nodes, and a node may carry the electrical
    limit of the cable or fuse that feeds everything below it; the root's limit is the grid connection.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=100)
    parent = TreeForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    max_current_a = models.FloatField(
        "max current (A per phase)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Limit of the supply feeding this node, in amps per phase. Empty: no limit of its own.",
    )
    phases = models.PositiveSmallIntegerField(choices=PhaseCount.choices, default=PhaseCount.THREE)
    max_power_kw = models.FloatField(
        "max power (kW)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Optional cap on total power below this node (a contract or transformer limit).",
    )
    phase_asymmetry_limit_a = models.FloatField(
        "phase asymmetry limit (A)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Largest allowed difference between phase currents (e.g. 20 A per VDE-AR-N 4100). Empty: none.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="sites_node_unique_name_per_parent"),
            models.UniqueConstraint(
                fields=["account", "name"],
                condition=models.Q(parent__isnull=True),
                name="sites_node_unique_root_name_per_account",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        siblings = (
            Node.objects.filter(parent=self.parent)
            if self.parent_id
            else Node.objects.filter(account_id=self.account_id, parent=None)
        )
        if self.account_id and siblings.filter(name=self.name).exclude(pk=self.pk).exists():
            where = f"under {self.parent.name!r}" if self.parent_id else "among this account's sites"
            raise ValidationError({"name": f"A node named {self.name!r} already exists {where}."})
        if self.parent_id is None:
            return
        if self.parent.account_id != self.account_id:
            raise ValidationError({"parent": "The parent belongs to another account."})
        if self.pk and self.parent.is_descendant_of(self, include_self=True):
            raise ValidationError({"parent": "A node cannot be moved under itself or one of its descendants."})
        if self.parent.level + 1 + self.subtree_height() >= MAX_TREE_DEPTH:
            raise ValidationError({"parent": f"Site trees are limited to {MAX_TREE_DEPTH} levels."})

    def subtree_height(self) -> int:
        """Levels below this node (0 for a leaf or an unsaved node)."""
        if not self.pk:
            return 0
        deepest = self.get_descendants().aggregate(deepest=models.Max("level"))["deepest"]
        return 0 if deepest is None else deepest - self.level
