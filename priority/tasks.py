from celery import shared_task

from .services import load_management


@shared_task(ignore_result=True)
def site_rebalance_task(root_id: int, reason: str) -> None:
    """A debounced recompute of one site (load_management.site_rebalance_request schedules it). A site that was
    deleted meanwhile is skipped quietly; a failed run is not retried: the next event or beat recomputes anyway."""
    load_management.site_rebalance(root_id=root_id, reason=reason)


@shared_task(ignore_result=True)
def managed_sites_rebalance_task() -> int:
    """Every LOAD_REBALANCE_INTERVAL_SECONDS (Celery beat): each managed site, for windows and lease renewals."""
    return load_management.managed_sites_rebalance()
