"""Reactions to changes made elsewhere. OCPP tags are written by the admin (forms, actions, CSV import), the REST
API and services; a model signal is the one place all of them pass, so a partner CPO hears of every change."""

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from ocpp_core.models import OcppTag

from .models import PartnerToken
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
