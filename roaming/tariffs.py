"""Our tariffs as OCPI objects (we are the CPO), and the version of one in force at a moment."""

from datetime import datetime

from django.db.models import F, QuerySet

from .models import Tariff, TariffVersion
from .protocol import timestamp


def tariffs_of(account_id: int) -> QuerySet[Tariff]:
    """The account's tariffs, each with `last_updated` (what pagination filters and orders by)."""
    return (
        Tariff.objects.filter(identity__account_id=account_id)
        .select_related("identity")
        .annotate(last_updated=F("updated_at"))
    )


def tariff_object(tariff: Tariff) -> dict:
    body = {
        "country_code": tariff.identity.country_code,
        "party_id": tariff.identity.party_id,
        "id": tariff.ocpi_id,
        "currency": tariff.currency,
        "type": tariff.type,
        "tariff_alt_text": tariff.alt_text,
        "tariff_alt_url": tariff.alt_url,
        "min_price": tariff.min_price,
        "max_price": tariff.max_price,
        "elements": tariff.elements,
        "start_date_time": tariff.start_date_time and timestamp(tariff.start_date_time),
        "end_date_time": tariff.end_date_time and timestamp(tariff.end_date_time),
        "last_updated": timestamp(tariff.updated_at),
    }
    return {key: value for key, value in body.items() if value not in ("", None, [])}


def tariff_objects(tariffs: list[Tariff]) -> list[dict]:
    return [tariff_object(tariff) for tariff in tariffs]


def tariff_version_at(tariff: Tariff, moment: datetime) -> TariffVersion | None:
    """The version published last before `moment` (a session is priced by the tariff as it was when it started);
    the first version if the session began before the tariff was ever published."""
    versions = tariff.versions.all()
    return versions.filter(valid_from__lte=moment).first() or versions.order_by("valid_from", "pk").first()
