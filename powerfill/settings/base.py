"""Settings shared by every environment, read from the environment (django-environ).

The embedded defaults (no environment at all) give the one-process quick start: SQLite in the project folder,
the in-memory channel layer, the local-memory cache and eager Celery. Setting ``REDIS_URL`` switches the channel
layer, the cache (and with it the shared API rate limit) and the Celery broker to Redis; ``DATABASE_URL`` picks
the database.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# The quick start's key; `manage.py check --deploy` refuses it (powerfill/checks.py).
DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = env("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # daphne first: its runserver serves HTTP and WebSocket from one process.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mptt",
    "import_export",
    "powerfill.accounts",
    "sites",
    "ocpp_core",
    "permissions",
    "priority",
    "roaming",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "powerfill.api.middleware.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "powerfill.urls"
ASGI_APPLICATION = "powerfill.asgi.application"
WSGI_APPLICATION = "powerfill.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# One DB transaction per request: a rejected API request changes nothing (DRF rolls back on handled errors).
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (chargers' consumers, API views) write to one file. Transactions take the write lock when
    # they begin (a deferred one that reads first cannot wait for it later: "database is locked"), writers wait
    # up to 20 s for each other, and WAL lets readers go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request runs in a thread of its own, so persistent connections (CONN_MAX_AGE) pile up, one
    # per finished thread, until PostgreSQL refuses clients. A pool (psycopg_pool, Django's "pool" option) keeps a
    # bounded set instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The pool checks a connection before it hands it out: after PostgreSQL dropped its connections (a failover, a
    # restart), the next user gets a new one rather than an error.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_SIZE", default=20),
        "timeout": 30,
    }
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Server-side binding lets psycopg prepare statements it sees repeatedly, so the hot queries (OCPP
        # authorization, charge box lookups) skip PostgreSQL's planner: 1.2 ms -> 0.25 ms per authorization in the
        # benchmark. Turn off behind a transaction-pooling PgBouncer, which cannot keep prepared statements.
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.OperatorUser"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REDIS_URL = env("REDIS_URL", default=None)

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Thousands of chargers connecting at once each touch Redis (group membership): the pool waits for a free
    # connection (powerfill/channel_layer.py). And redis-py 8 reads with a 5 s socket timeout, the same 5 s
    # channels_redis blocks for in BZPOPMIN, so a busy process timed out reading idle channels.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "powerfill.channel_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=200),
                        "timeout": 30,
                        "socket_timeout": 30,
                    }
                ]
            },
        },
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: Redis as broker when there is one, otherwise tasks run inline (the quick start has no worker).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE

# OCPP central system
# OCPI: the public base URL partners reach us at (our versions URL is OCPI_PUBLIC_URL + "/ocpi/versions"); empty:
# the URL the request came in on (behind a TLS terminator, set it, or the partner is told http://).
OCPI_PUBLIC_URL = env.str("OCPI_PUBLIC_URL", default="").rstrip("/")
OCPI_PULL_INTERVAL_SECONDS = env.int("OCPI_PULL_INTERVAL_SECONDS", default=900)  # catch-up pull of partners' modules
OCPI_PUSH_MAX_ATTEMPTS = env.int("OCPI_PUSH_MAX_ATTEMPTS", default=8)  # then the partner's pull catches up
OCPI_OUTBOX_RETENTION_DAYS = env.int("OCPI_OUTBOX_RETENTION_DAYS", default=30)  # sent pushes kept for the admin
OCPI_PAGE_LIMIT = env.int("OCPI_PAGE_LIMIT", default=1000)  # the most objects one page of a module list holds
OCPI_VERSIONS = env.list("OCPI_VERSIONS", default=["2.2.1", "2.1.1"])  # offered to partners, the newest used
OCPI_DEFAULT_CURRENCY = env.str("OCPI_DEFAULT_CURRENCY", default="EUR")  # of sessions at a location without a tariff
# A partner that registered with us takes our pushes once it has read our answer (token C): its initial sync waits.
OCPI_SYNC_AFTER_REGISTRATION_SECONDS = env.float("OCPI_SYNC_AFTER_REGISTRATION_SECONDS", default=3.0)
# Who this platform is in OCPI where the scripted set-up (manage.py ocpi_token_a, ocpi_register) creates the account
# and its identity on a fresh database; each command takes options that override these.
OCPI_ACCOUNT_NAME = env.str("OCPI_ACCOUNT_NAME", default="Powerfill")
OCPI_COUNTRY_CODE = env.str("OCPI_COUNTRY_CODE", default="DE")
OCPI_PARTY_ID = env.str("OCPI_PARTY_ID", default="PWF")
OCPI_BUSINESS_NAME = env.str("OCPI_BUSINESS_NAME", default="")  # empty: the account's name
OCPP_CALL_TIMEOUT = env.float("OCPP_CALL_TIMEOUT", default=30.0)  # seconds a charger has to answer our CALL
OCPP_MAX_FRAME_BYTES = env.int("OCPP_MAX_FRAME_BYTES", default=256 * 1024)  # larger frames get a CALLERROR
OCPP_MESSAGE_LOG_ENABLED = env.bool("OCPP_MESSAGE_LOG_ENABLED", default=True)
OCPP_MESSAGE_LOG_RETENTION_DAYS = env.int("OCPP_MESSAGE_LOG_RETENTION_DAYS", default=30)
OCPP_DB_THREADS = env.int("OCPP_DB_THREADS", default=8)  # threads for the consumers' ORM work (the rare messages)
OCPP_DB_POOL_SIZE = env.int("OCPP_DB_POOL_SIZE", default=10)  # PostgreSQL connections for the frequent messages
# How old a server process's knowledge of rarely changing facts about chargers (is the site managed, does the
# account roam) may get before messages are judged by it again (ocpp_core.charger_directory; a change made in the
# same process is seen at once, a charger that connects is looked up anew).
OCPP_CHARGER_FACTS_REFRESH_SECONDS = env.float("OCPP_CHARGER_FACTS_REFRESH_SECONDS", default=10.0)
OCPP_DATA_TRANSFER_VENDORS = env.list("OCPP_DATA_TRANSFER_VENDORS", default=[])  # DataTransfer vendorIds we accept
# Security profile 3: the header in which the TLS terminator passes the verified client certificate's CN.
OCPP_CLIENT_CERT_HEADER = env("OCPP_CLIENT_CERT_HEADER", default="X-Client-Cert-CN")
# SignCertificate: accept CSRs when an operator signs them and sends CertificateSigned; otherwise Rejected.
OCPP_ACCEPT_CERTIFICATE_SIGNING_REQUESTS = env.bool("OCPP_ACCEPT_CERTIFICATE_SIGNING_REQUESTS", default=False)

# Load management (priority/services/load_management.py)
LOAD_VOLTAGE = env.float("LOAD_VOLTAGE", default=230.0)  # phase to neutral, to turn kW into amps and back
LOAD_REBALANCE_INTERVAL_SECONDS = env.int("LOAD_REBALANCE_INTERVAL_SECONDS", default=60)  # periodic recompute
LOAD_DEBOUNCE_SECONDS = env.float("LOAD_DEBOUNCE_SECONDS", default=2.0)  # a burst of events makes one recompute
LOAD_CHANGE_THRESHOLD_AMPS = env.float("LOAD_CHANGE_THRESHOLD_AMPS", default=1.0)  # smaller rises are not sent
LOAD_HEADROOM_AMPS = env.float("LOAD_HEADROOM_AMPS", default=2.0)  # room above what a vehicle draws
LOAD_PROFILE_LEASE_SECONDS = env.int("LOAD_PROFILE_LEASE_SECONDS", default=900)  # then the safe share applies
LOAD_MEASUREMENT_MAX_AGE_SECONDS = env.int("LOAD_MEASUREMENT_MAX_AGE_SECONDS", default=300)  # older: not measured
LOAD_RETRY_REFUSED_SECONDS = env.int("LOAD_RETRY_REFUSED_SECONDS", default=900)  # ask a refusing charger again

CELERY_BEAT_SCHEDULE = {
    "rebalance-managed-sites": {
        "task": "priority.tasks.managed_sites_rebalance_task",
        "schedule": LOAD_REBALANCE_INTERVAL_SECONDS,
    },
    "prune-ocpp-message-log": {"task": "ocpp_core.tasks.message_log_prune", "schedule": 3600},
    "release-stale-ocpp-connections": {"task": "ocpp_core.tasks.stale_connections_release", "schedule": 60},
    "pull-ocpi-partners": {"task": "roaming.tasks.partners_pull_task", "schedule": OCPI_PULL_INTERVAL_SECONDS},
    "push-ocpi-outbox": {"task": "roaming.tasks.outbox_drain_task", "schedule": 30},
    "purge-ocpi-outbox": {"task": "roaming.tasks.outbox_purge_task", "schedule": 86400},
}

# API rate limit per account: this many calls in any rolling window ("600/m", "50/10s", "1000/h"; empty: no limit),
# counted in Redis when REDIS_URL is set (every process shares it), otherwise in the process (powerfill.api.rate_limit).
API_RATE_LIMIT = env("API_RATE_LIMIT", default="600/m")

# The largest request body (Django's default is 2.5 MB; a whole site tree in one POST can be larger). Above: 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=10 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "powerfill.api.authentication.ApiTokenAuthentication",
        "powerfill.api.authentication.AccountBasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["powerfill.api.permissions.IsAccountMember"],
    "DEFAULT_THROTTLE_CLASSES": ["powerfill.api.throttling.AccountRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["powerfill.api.parsers.ApiJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "powerfill.api.pagination.OptionalPageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "powerfill.api.exceptions.api_exception_handler",
    "NON_FIELD_ERRORS_KEY": "nonFieldErrors",
    "COERCE_DECIMAL_TO_STRING": False,
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Powerfill REST API",
    "DESCRIPTION": (
        "Charge point management: charge boxes, OCPP tags, users, sites, tag groups and permissions. "
        "SteVe-compatible where SteVe has the endpoint. Authenticate with `Authorization: Token <key>` "
        "or HTTP Basic. 600 requests per minute per account."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "powerfill.api.schema.add_error_responses",
        "powerfill.api.schema.refuse_nul_characters",
    ],
}

LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The ocpp library logs every frame at INFO; the message log in the database keeps them instead.
    "loggers": {"ocpp": {"level": env("OCPP_LIBRARY_LOG_LEVEL", default="WARNING")}},
}
