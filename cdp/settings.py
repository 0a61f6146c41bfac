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
from django.utils.translation import gettext_lazy as _

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
    # The admin theme (templates, Tailwind CSS, Chart.js, fonts: all vendored, no CDN).
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
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
LOCALE_PATHS = [BASE_DIR / "locale"]
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
    # After the nightly traits (03:00): every active model scores the fresh traits.
    "segments-models-score-all": {
        "task": "segments.tasks.segment_models_score_all_task",
        "schedule": crontab(hour=3, minute=40),
    },
    "cdp-audit-purge": {
        "task": "cdp.tasks.audit_purge_task",
        "schedule": crontab(hour=3, minute=30),
    },
    "identity-resolve-full": {
        "task": "identity.tasks.identity_resolve_full_task",
        "schedule": crontab(hour=1, minute=0),
    },
    "connectors-nightly": {
        "task": "connectors.tasks.syncs_nightly_task",
        "schedule": crontab(hour=2, minute=0),
    },
    "connectors-erasure-deliveries": {
        "task": "connectors.tasks.erasure_deliveries_task",
        "schedule": crontab(minute="*/15"),
    },
    "cdp-retention-enforce": {
        "task": "cdp.tasks.retention_enforce_task",
        "schedule": crontab(hour=4, minute=0),
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
# Model-based segments (segments.ml): the consent purpose a model requiring consent needs
# (GDPR Art. 21/22), the drift past which a warning is raised (PSI of scores; adjusted Rand
# index between the clusters of two versions), and the profiles scored per chunk.
CDP_MODEL_CONSENT_PURPOSE = os.environ.get("CDP_MODEL_CONSENT_PURPOSE", "profiling")
CDP_MODEL_DRIFT_PSI_WARN = float(os.environ.get("CDP_MODEL_DRIFT_PSI_WARN", "0.25"))
CDP_MODEL_DRIFT_ARI_WARN = float(os.environ.get("CDP_MODEL_DRIFT_ARI_WARN", "0.5"))
CDP_MODEL_SCORE_CHUNK = int(os.environ.get("CDP_MODEL_SCORE_CHUNK", "100000"))
# OpenMP/BLAS threads while training and scoring: 1 unless the worker has cores to itself
# (spinning threads on busy cores made gradient boosting 20x slower on a shared 2-core VM).
CDP_MODEL_THREADS = int(os.environ.get("CDP_MODEL_THREADS", "1"))

# Audit log. Retention: CNIL recommends 6 to 12 months for such logs; the nightly purge
# (cdp.tasks.audit_purge_task) removes older rows and chains a row saying so.
CDP_AUDIT_RETENTION_DAYS = int(os.environ.get("CDP_AUDIT_RETENTION_DAYS", "365"))
if CDP_AUDIT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("CDP_AUDIT_RETENTION_DAYS must be a positive number of days")
# Retention (CNIL: prospects' data 3 years after the last contact). Events older than
# CDP_RETENTION_EVENTS_DAYS are deleted; profiles with no activity (event, record update,
# consent) for CDP_RETENTION_INACTIVE_DAYS are erased (data keys destroyed, destinations
# told). 0 turns a rule off. Restricted profiles (GDPR Art. 18) are kept.
CDP_RETENTION_EVENTS_DAYS = int(os.environ.get("CDP_RETENTION_EVENTS_DAYS", str(3 * 365)))
CDP_RETENTION_INACTIVE_DAYS = int(os.environ.get("CDP_RETENTION_INACTIVE_DAYS", str(3 * 365)))
if CDP_RETENTION_EVENTS_DAYS < 0 or CDP_RETENTION_INACTIVE_DAYS < 0:
    raise ImproperlyConfigured("CDP_RETENTION_*_DAYS must be 0 (off) or a number of days")
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
    # httpx logs every request URL at INFO: vendor ids (e.g. Mailchimp's subscriber hash,
    # an MD5 of the email) are not for logs.
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpcore")},
}

# Activation (connectors): retry backoff (exponential with jitter, capped), the wait that
# coalesces membership changes into one sync run, and a run's lease.
CDP_SYNC_BACKOFF_BASE_S = float(os.environ.get("CDP_SYNC_BACKOFF_BASE_S", "0.5"))
CDP_SYNC_BACKOFF_CAP_S = float(os.environ.get("CDP_SYNC_BACKOFF_CAP_S", "30"))
CDP_SYNC_DEBOUNCE_S = int(os.environ.get("CDP_SYNC_DEBOUNCE_S", "30"))
CDP_SYNC_LEASE_S = int(os.environ.get("CDP_SYNC_LEASE_S", "600"))

# Salesforce: the pinned REST API version, the object audiences are upserted as and its
# unique External ID field (holding the profile id), the number of changes from which a run
# goes through a Bulk API 2.0 job, the daily API requests left for the org's other
# integrations (a run stops cleanly before eating into them), and Bulk job polling.
CDP_SALESFORCE_API_VERSION = os.environ.get("CDP_SALESFORCE_API_VERSION", "v62.0")
CDP_SALESFORCE_OBJECT = os.environ.get("CDP_SALESFORCE_OBJECT", "Contact")
CDP_SALESFORCE_EXTERNAL_ID = os.environ.get("CDP_SALESFORCE_EXTERNAL_ID", "CDP_Id__c")
CDP_SALESFORCE_BULK_THRESHOLD = int(os.environ.get("CDP_SALESFORCE_BULK_THRESHOLD", "10000"))
CDP_SALESFORCE_API_RESERVE = int(os.environ.get("CDP_SALESFORCE_API_RESERVE", "5000"))
CDP_SALESFORCE_BULK_POLL_S = float(os.environ.get("CDP_SALESFORCE_BULK_POLL_S", "5"))
CDP_SALESFORCE_BULK_TIMEOUT_S = float(os.environ.get("CDP_SALESFORCE_BULK_TIMEOUT_S", "3600"))

# Identity resolution. Strong keys link at once (deterministic pass); an identifier value
# shared by more records than CDP_IDENTITY_MAX_SHARED is flagged and ignored as a key;
# values matching a blocked pattern (on the normalized email / phone) never link. Pairs
# scored at or above the link threshold join; those between the review and link
# thresholds go to the review queue.
CDP_IDENTITY_STRONG_KEYS = [
    k for k in os.environ.get("CDP_IDENTITY_STRONG_KEYS", "email,phone,customer_id").split(",")
    if k in ("email", "phone", "customer_id")
]
CDP_IDENTITY_MAX_SHARED = int(os.environ.get("CDP_IDENTITY_MAX_SHARED", "20"))
CDP_IDENTITY_BLOCKED_PATTERNS = [
    r"^$", r"^null$", r"^none$", r"^anonymous$", r"^-1$", r"^0+$", r"^\+?\d{0,3}0{6,}$",
    r"^test@", r"^noreply@", r"^no-reply@", r"@example\.invalid$",
    *[p for p in os.environ.get("CDP_IDENTITY_BLOCKED_EXTRA", "").split("|") if p],
]
CDP_IDENTITY_LINK_THRESHOLD = float(os.environ.get("CDP_IDENTITY_LINK_THRESHOLD", "0.95"))
CDP_IDENTITY_REVIEW_THRESHOLD = float(os.environ.get("CDP_IDENTITY_REVIEW_THRESHOLD", "0.7"))
# A weak bridge between two groups is cut: groups join on probabilistic links only when
# links at the threshold cover at least this share of the smaller group.
CDP_IDENTITY_BRIDGE_SUPPORT = float(os.environ.get("CDP_IDENTITY_BRIDGE_SUPPORT", "0.5"))
CDP_IDENTITY_U_MAX_PAIRS = int(os.environ.get("CDP_IDENTITY_U_MAX_PAIRS", "1000000"))


# The admin UI: theme, per-role navigation and home page (cdp.ui).
UNFOLD = {
    "SITE_TITLE": "CDP",
    "SITE_HEADER": "CDP",
    "SITE_SUBHEADER": _("Customer data platform"),
    "SITE_SYMBOL": "hub",
    "SHOW_HISTORY": False,
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_LANGUAGES": True,
    "DASHBOARD_CALLBACK": "cdp.ui.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": False,
        "navigation": "cdp.ui.navigation.sidebar",
    },
}
