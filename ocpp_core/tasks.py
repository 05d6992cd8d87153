from celery import shared_task

from .services.message_log import message_log_prune as prune


@shared_task
def message_log_prune() -> int:
    """Hourly (Celery beat): drop OCPP frames past their retention."""
    return prune()
