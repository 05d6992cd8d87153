"""Reactions to changes made elsewhere. OCPP tags are written by the admin (forms, actions, CSV import), the REST
API and services; a model signal is the one place all of them pass, so a partner CPO hears of every change."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from ocpp_core.charger_directory import charger_facts_changed
from ocpp_core.models import OcppTag

from .models import PartnerToken, Party
from .services.tokens import token_push


@receiver(post_save, sender=OcppTag, dispatch_uid="roaming_token_saved")
def token_saved(sender, instance: OcppTag, raw=False, **kwargs):
    if not raw:  # not while loading fixtures
        token_push(ocpp_tag=instance)


@receiver(pre_delete, sender=OcppTag, dispatch_uid="roaming_token_deleting")
def token_deleting(sender, instance: OcppTag, **kwargs):
    # After the delete the partner token no longer points at its tag: remember now whether the tag was one.
    instance.stands_for_partner_token = PartnerToken.objects.filter(ocpp_tag_id=instance.pk).exists()


@receiver(post_delete, sender=OcppTag, dispatch_uid="roaming_token_deleted")
def token_deleted(sender, instance: OcppTag, **kwargs):
    token_push(ocpp_tag=instance, deleted=True)


@receiver(post_save, sender=Party, dispatch_uid="roaming_party_saved")
def party_saved(sender, instance: Party, created=False, **kwargs):
    if created:
        _partners_changed()


@receiver(post_delete, sender=Party, dispatch_uid="roaming_party_deleted")
def party_deleted(sender, instance: Party, **kwargs):
    _partners_changed()


def _partners_changed():
    # Whether roaming concerns an account's chargers (services.charger_roaming): read again once committed.
    transaction.on_commit(charger_facts_changed)
