"""WSGI entry point, for management tooling only: chargers need WebSockets, so deployments serve asgi.py."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powerfill.settings.local")

application = get_wsgi_application()
