from django.contrib.auth.models import AbstractUser
from django.db import models


class Account(models.Model):
    """An operator organisation: owns sites, charge boxes, tags and API tokens; the unit of tenancy and rate limits."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class OperatorUser(AbstractUser):
    """A person who logs in to the admin or calls the API with HTTP Basic.

    Staff users with an account see and change only that account's objects; superusers see every account.
    """

    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="operators",
        help_text="The operator organisation this login acts for. Required for staff users and API use.",
    )

    class Meta:
        verbose_name = "operator user"


class ApiToken(models.Model):
    """A REST API key of an account. Only a SHA-256 digest is stored; the key is shown once, when created."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What or who uses this token.")
    prefix = models.CharField(max_length=8, editable=False, help_text="The key's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix}… ({self.name or self.account})"
