from django.apps import AppConfig


class RoamingConfig(AppConfig):
    name = "roaming"
    verbose_name = "Roaming (OCPI)"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the signal receivers)
