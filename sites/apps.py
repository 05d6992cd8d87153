from django.apps import AppConfig


class SitesConfig(AppConfig):
    # Our own "sites" label: django.contrib.sites, which would claim it, is not installed.
    name = "sites"
    label = "sites"
    verbose_name = "Sites"
