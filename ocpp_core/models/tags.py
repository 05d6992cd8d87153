from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from powerfill.accounts.models import Account

from ..choices import AUTHORIZATION_STATUS_CHOICES
from ..validators import id_tag_validator
from .charge_boxes import ChargeBox


class User(models.Model):
    """The person behind one or more OCPP tags (SteVe's "user"): who to call about a card, not a login."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tag_users")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        verbose_name = "user (tag holder)"
        verbose_name_plural = "users (tag holders)"

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"User {self.pk}"


class OcppTag(models.Model):
    """An identifier presented at a charger (RFID card, app token): SteVe's OCPP tag.

    `maxActiveTransactionCount` follows SteVe: 0 means blocked, a negative value means no limit. idTags compare
    case-insensitively, as OCPP's CiString does, and are unique within an account.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ocpp_tags")
    id_tag = models.CharField("ID tag", max_length=20, validators=[id_tag_validator])
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        verbose_name="parent ID tag",
        help_text="Sent to chargers as parentIdTag (a fleet or family card).",
    )
    expiry_date = models.DateTimeField(null=True, blank=True)
    max_active_transaction_count = models.IntegerField(
        default=1,
        validators=[MinValueValidator(-1)],
        help_text="How many sessions may run at once with this tag: 0 blocks it, -1 means no limit.",
    )
    note = models.TextField(blank=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="ocpp_tags")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id_tag"]
        verbose_name = "OCPP tag"
        constraints = [
            models.UniqueConstraint("account", Lower("id_tag"), name="ocpp_core_ocpptag_unique_id_tag"),
        ]

    def __str__(self):
        return self.id_tag

    @property
    def blocked(self) -> bool:
        return self.max_active_transaction_count == 0

    def is_expired(self, at=None) -> bool:
        return self.expiry_date is not None and self.expiry_date <= (at or timezone.now())

    @staticmethod
    def _ancestor_pks(pk: int) -> set[int]:
        """The tag and every tag above it (parent chains are short: a card and its account's master card)."""
        seen: set[int] = set()
        while pk is not None and pk not in seen:
            seen.add(pk)
            pk = OcppTag.objects.filter(pk=pk).values_list("parent_id", flat=True).first()
        return seen

    def clean(self):
        if self.parent_id is not None:
            if self.parent.account_id != self.account_id:
                raise ValidationError({"parent": "The parent tag belongs to another account."})
            if self.parent_id == self.pk:
                raise ValidationError({"parent": "A tag cannot be its own parent."})
            if self.pk is not None and self.pk in self._ancestor_pks(self.parent_id):
                raise ValidationError({"parent": f"{self.parent.id_tag!r} is below this tag: parents cannot loop."})
        if self.user_id is not None and self.user.account_id != self.account_id:
            raise ValidationError({"user": "The user belongs to another account."})
        if self.id_tag and self.account_id:
            duplicates = OcppTag.objects.filter(account_id=self.account_id, id_tag__iexact=self.id_tag)
            if duplicates.exclude(pk=self.pk).exists():
                raise ValidationError({"id_tag": f"An OCPP tag {self.id_tag!r} already exists."})


class OcppTagGroup(models.Model):
    """A named set of OCPP tags, so a permission can be granted to all of them at once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ocpp_tag_groups")
    name = models.CharField(max_length=100)
    ocpp_tags = models.ManyToManyField(OcppTag, blank=True, related_name="groups", verbose_name="OCPP tags")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "OCPP tag group"
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="ocpp_core_tag_group_unique_name")]

    def __str__(self):
        return self.name

    def clean(self):
        duplicates = OcppTagGroup.objects.filter(account_id=self.account_id, name=self.name).exclude(pk=self.pk)
        if self.account_id and duplicates.exists():
            raise ValidationError({"name": f"A tag group named {self.name!r} already exists."})


class LocalAuthListEntry(models.Model):
    """What a charger's local authorization list holds, as we last sent it (the base of differential updates)."""

    charge_box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="local_auth_list")
    id_tag = models.CharField("ID tag", max_length=20)
    status = models.CharField(max_length=16, choices=AUTHORIZATION_STATUS_CHOICES)
    expiry_date = models.DateTimeField(null=True, blank=True)
    parent_id_tag = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["charge_box", "id_tag"]
        verbose_name = "local authorization list entry"
        verbose_name_plural = "local authorization list entries"
        constraints = [models.UniqueConstraint(fields=["charge_box", "id_tag"], name="ocpp_core_local_list_unique")]

    def __str__(self):
        return f"{self.id_tag} ({self.status}) on {self.charge_box_id}"
