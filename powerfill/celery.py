"""The Celery app. Tasks live in each app's tasks.py; settings come from Django's CELERY_* settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powerfill.settings.local")

app = Celery("powerfill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
