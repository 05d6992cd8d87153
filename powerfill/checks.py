"""Deployment checks (`manage.py check --deploy`): the settings that make a deployment unsafe or a single-process
toy, told before the first charger connects rather than found in production. Django's own deploy checks cover
DEBUG, HTTPS and cookies; these cover what is Powerfill's own."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def secret_key_is_not_the_development_one(app_configs, **kwargs):
    if settings.SECRET_KEY != settings.DEVELOPMENT_SECRET_KEY:
        return []
    return [
        checks.Error(
            "SECRET_KEY is the development default: sessions, API tokens' digests and charger password digests "
            "could be forged by anyone who read the source.",
            hint="Set SECRET_KEY in the environment to a long random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))').",
            id="powerfill.E001",
        )
    ]


@checks.register(checks.Tags.database, deploy=True)
def database_is_not_sqlite(app_configs, **kwargs):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        return []
    return [
        checks.Warning(
            "The database is SQLite: one writer at a time, in one process. It is the quick start's database, not a "
            "deployment's.",
            hint="Set DATABASE_URL to PostgreSQL (postgres://user:password@host:5432/name).",
            id="powerfill.W002",
        )
    ]


@checks.register(checks.Tags.caches, deploy=True)
def redis_is_configured(app_configs, **kwargs):
    if settings.REDIS_URL:
        return []
    return [
        checks.Warning(
            "No REDIS_URL: the channel layer is in memory (operations reach only chargers connected to this one "
            "process), the cache and the API rate limit are per process, and Celery runs its tasks inline.",
            hint="Set REDIS_URL (redis://host:6379/0) and run a Celery worker and beat.",
            id="powerfill.W003",
        )
    ]
