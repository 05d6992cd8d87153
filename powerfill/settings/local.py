"""Development and the README quick start: one process, no services, plain HTTP and ws://."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# Serve static files straight from the apps, so the quick start needs no collectstatic.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # served from the apps by the finders; collectstatic is for deployments
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
