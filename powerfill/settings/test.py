"""pytest settings: the embedded defaults, or PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set (CI runs both)."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # served from the apps by the finders; collectstatic is for deployments
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so live server processes started by the tests see the same test database (tests/live.py
    # hands them its path in DATABASE_URL). One per test run (process id), so two runs on one machine cannot
    # clobber each other's file.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"powerfill-test-{os.getpid()}.sqlite3"),
    }
