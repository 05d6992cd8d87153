"""Our tariffs (we are the CPO): saving one records a new version and queues it for every partner eMSP that
receives tariffs."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from .. import ocpi211
from ..choices import OcpiRole
from ..models import Tariff, TariffVersion
from ..objects import TariffSerializer, first_error
from ..tariffs import tariff_object
from .outbox import outbox_put_to_partners


@transaction.atomic
def tariff_save(*, tariff: Tariff) -> Tariff:
    """Check the tariff (model fields and the OCPI field rules of the whole object), save it, record the version
    now in force and queue it for the partners."""
    tariff.full_clean()
    tariff.updated_at = timezone.now()
    candidate = TariffSerializer(data=tariff_object(tariff))
    if not candidate.is_valid():
        field = first_error(candidate.errors)
        key = "elements" if field.startswith("elements") else NON_FIELD_ERRORS
        raise ValidationError({key: f"Not a valid OCPI tariff: {field}"})
    tariff.save()
    body = tariff_object(tariff)
    TariffVersion.objects.create(tariff=tariff, valid_from=tariff.updated_at, data=body)
    outbox_put_to_partners(
        account_id=tariff.identity.account_id,
        partner_role=OcpiRole.EMSP,
        module="tariffs",
        ids=(body["country_code"], body["party_id"], body["id"]),
        body=body,
        body_211=ocpi211.tariff_as_211(body),
    )
    return tariff
