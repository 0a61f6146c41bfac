"""Settings, all read from the environment (twelve-factor).

Without DATABASE_URL the app runs on a SQLite file under var/; without REDIS_URL Celery
runs tasks eagerly. Both are for the embedded demo only. With DEBUG off, the secrets
(SECRET_KEY, CDP_ENCRYPTION_KEYS, CDP_BLIND_INDEX_KEY) must come from the environment.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CDP_VAR_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DEBUG", False)
_SECRET_NAMES = ("SECRET_KEY", "CDP_ENCRYPTION_KEYS", "CDP_BLIND_INDEX_KEY")
_missing = [name for name in _SECRET_NAMES if not os.environ.get(name)]
if _missing and not DEBUG:
    raise ImproperlyConfigured(
        "Missing required environment variables with DEBUG off: " + ", ".join(_missing)
    )
_demo = {}
if _missing:
    from cdp.envkeys import demo_secrets

    _demo = demo_secrets(VAR_DIR)


def _secret(name: str) -> str:
    return os.environ.get(name) or _demo[name]


SECRET_KEY = _secret("SECRET_KEY")
CDP_ENCRYPTION_KEYS = _secret("CDP_ENCRYPTION_KEYS")
CDP_BLIND_INDEX_KEY = _secret("CDP_BLIND_INDEX_KEY")
if len(CDP_BLIND_INDEX_KEY) < 32:
    raise ImproperlyConfigured("CDP_BLIND_INDEX_KEY must be at least 32 characters long")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "health_check",
    "cdp",
    "identity",
    "segments",
    "connectors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Request id + truncated client IP for audit rows; before auth so logins carry them.
    "cdp.middleware.AuditContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cdp.urls"
WSGI_APPLICATION = "cdp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'cdp.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Served by whitenoise under gunicorn (collectstatic at image build), by runserver in DEBUG.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: a real Redis broker whenever REDIS_URL is set; eager only for the embedded demo.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_RESULT_EXPIRES = 3600
# Every periodic task, declared here only: beat's DatabaseScheduler copies these entries into
# its tables at start. Times are in CELERY_TIMEZONE (TIME_ZONE, Europe/Paris by default).
CELERY_BEAT_SCHEDULE = {
    "segments-traits-recompute-all": {
        "task": "segments.tasks.traits_recompute_all_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "segments-runs-reap": {
        "task": "segments.tasks.segment_runs_reap_task",
        "schedule": crontab(minute="*/5"),
    },
    "cdp-audit-purge": {
        "task": "cdp.tasks.audit_purge_task",
        "schedule": crontab(hour=3, minute=30),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cdp.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["cdp.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("CDP_API_RATE", "600/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cdp.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CDP API",
    "DESCRIPTION": "Ingest customer records and events; read unified profiles.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Ingestion limits and normalization defaults.
CDP_RECORD_BATCH_MAX = 5000
CDP_EVENT_BATCH_MAX = 10000
CDP_DEFAULT_PHONE_REGION = os.environ.get("CDP_DEFAULT_PHONE_REGION", "FR")
# work_mem of segment evaluation and preview transactions (PostgreSQL).
CDP_ANALYTICS_WORK_MEM = os.environ.get("CDP_ANALYTICS_WORK_MEM", "64MB")

# Audit log. Retention: CNIL recommends 6 to 12 months for such logs; the nightly purge
# (cdp.tasks.audit_purge_task) removes older rows and chains a row saying so.
CDP_AUDIT_RETENTION_DAYS = int(os.environ.get("CDP_AUDIT_RETENTION_DAYS", "365"))
if CDP_AUDIT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("CDP_AUDIT_RETENTION_DAYS must be a positive number of days")
# Reverse proxies in front of the app that append to X-Forwarded-For; 0 trusts none and
# audits REMOTE_ADDR (a client can write any X-Forwarded-For it likes).
CDP_TRUSTED_PROXY_COUNT = int(os.environ.get("CDP_TRUSTED_PROXY_COUNT", "0"))
# Benchmark/diagnostic switch (not read from the environment on purpose): with it off,
# audit_record writes nothing. It must stay on in production.
CDP_AUDIT_ENABLED = True

if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
