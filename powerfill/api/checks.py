"""System checks of the API's settings: a mistyped setting stops `manage.py check` and the servers' start, rather
than failing every request."""

from django.conf import settings
from django.core.checks import Error, register

from .rate_limit import rate_parse


@register
def rate_limit_check(app_configs, **kwargs):
    if not settings.API_RATE_LIMIT:
        return []
    try:
        rate_parse(settings.API_RATE_LIMIT)
    except ValueError as error:
        return [
            Error(str(error), hint="API_RATE_LIMIT: calls/period, e.g. 600/m, 50/10s, 1000/h.", id="powerfill.E001")
        ]
    return []
