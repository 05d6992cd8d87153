"""Helpers that every app's services share."""

from django.db import models


def model_update(*, instance: models.Model, data: dict) -> list[str]:
    """Set the given fields, validate the whole object (field rules, constraints, clean()) and save the changes.

    Returns the names of the fields that changed; nothing is written when none did.
    """
    changed = [name for name, value in data.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, data[name])
    if changed:
        instance.full_clean()
        update_fields = list(changed)
        if any(field.name == "updated_at" for field in instance._meta.fields):
            update_fields.append("updated_at")
        instance.save(update_fields=update_fields)
    return changed


def model_create(*, model: type[models.Model], **data) -> models.Model:
    """Build, validate (field rules, constraints, clean()) and insert one object."""
    instance = model(**data)
    instance.full_clean()
    instance.save()
    return instance
