from django.apps import AppConfig


class RoamingConfig(AppConfig):
    name = "roaming"
    verbose_name = "Roaming (OCPI)"

    def ready(self):
        from ocpp_core.hooks import after_app_statements_commit

        from . import checks, receivers  # noqa: F401  (registers the deployment checks, connects the receivers)
        from .services.outbox import outbox_drain_soon

        # The chargers' SQL queues pushes in the outbox (session_events, evse_events): sent once committed.
        after_app_statements_commit(outbox_drain_soon)
