from celery import shared_task

from .services.connections import stale_connections_release as release_stale_connections
from .services.message_log import message_log_prune as prune


@shared_task
def message_log_prune() -> int:
    """Hourly (Celery beat): drop OCPP frames past their retention."""
    return prune()


@shared_task
def stale_connections_release() -> int:
    """Every minute (Celery beat): chargers held by a server process that died are marked disconnected."""
    return release_stale_connections()
