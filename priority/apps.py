from django.apps import AppConfig


class PriorityConfig(AppConfig):
    name = "priority"
    verbose_name = "Priority and load management"
