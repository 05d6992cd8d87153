"""Charger clocks: OCPP timestamps as chargers really send them."""

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

# A charger that has not set its clock yet reports 1970; anything before this is treated as "no clock".
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)


def parse_charger_time(value: str | None) -> datetime | None:
    """An OCPP dateTime as an aware datetime (UTC when the charger gave no offset); None when absent or unparsable."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def plausible_or_now(value: datetime | None, now: datetime | None = None) -> datetime:
    """The charger's time when its clock is set, otherwise the time we received the message."""
    now = now or timezone.now()
    return value if value is not None and value >= EARLIEST_PLAUSIBLE else now


def ocpp_time(value: datetime) -> str:
    """A dateTime as OCPP wants it: UTC with a Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
