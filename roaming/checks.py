"""Deployment checks of roaming (`manage.py check --deploy --database default`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility, deploy=True)
def partners_can_reach_us(app_configs, databases=None, **kwargs):
    """With OCPI partners configured, OCPI_PUBLIC_URL must say where they reach us: the versions URL we give them in
    the credentials handshake and every URL in the endpoints list are built from it."""
    if settings.OCPI_PUBLIC_URL or not databases:
        return []
    from .models import Party

    try:
        partners = Party.objects.using(databases[0]).count()
    except Exception:  # not migrated yet: nothing configured
        return []
    if not partners:
        return []
    return [
        checks.Warning(
            f"{partners} OCPI partner(s) configured but OCPI_PUBLIC_URL is empty: the URLs we send them are built "
            "from each request's host, which behind a proxy may not be the address partners reach.",
            hint="Set OCPI_PUBLIC_URL to the public https:// base URL of this platform.",
            id="roaming.W001",
        )
    ]
