from django.apps import AppConfig


class RoamingConfig(AppConfig):
    name = "roaming"
    verbose_name = "Roaming (OCPI)"

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers the deployment checks, connects the receivers)
