"""Deployments: uvicorn (or Daphne) processes behind a TLS terminator, PostgreSQL, Redis, Celery worker + beat.

Required environment: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL. Plain http:// answers 301 to https://
(Django's SecurityMiddleware) and ws:// answers 301 to wss:// (powerfill.tls, an ASGI middleware, because Django's
middleware never sees WebSockets). The TLS terminator tells us the original scheme with X-Forwarded-Proto.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
REDIS_URL = env("REDIS_URL")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
