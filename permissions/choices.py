from django.db import models


class PermissionVia(models.TextChoices):
    """How a tag got its permission at a station (the check endpoint's `via`)."""

    OCPP_TAG = "ocppTag", "the tag's own permission"
    OCPP_TAG_GROUP = "ocppTagGroup", "a permission of one of the tag's groups"
