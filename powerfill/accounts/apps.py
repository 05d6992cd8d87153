from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "powerfill.accounts"
    label = "accounts"
    verbose_name = "Accounts and API access"

    def ready(self):
        from django.db.models.signals import post_migrate

        import powerfill.api.checks  # noqa: F401  (registers the API settings' system checks)
        import powerfill.api.schema  # noqa: F401  (registers the OpenAPI authentication extensions)
        import powerfill.checks  # noqa: F401  (registers the deployment checks)

        from .services import operators_group_sync

        # Permissions exist only after every app migrated, so the operators' group is kept in step afterwards.
        post_migrate.connect(lambda **kwargs: operators_group_sync(), weak=False, dispatch_uid="operators_group_sync")
