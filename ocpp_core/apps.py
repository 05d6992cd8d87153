from django.apps import AppConfig


class OcppCoreConfig(AppConfig):
    name = "ocpp_core"
    verbose_name = "OCPP"
