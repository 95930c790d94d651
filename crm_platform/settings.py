"""Settings come from the environment with safe defaults (see README)."""
from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    "dev-only-insecure-key-change-me" if DEBUG else None
)
if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h]

# R-PII-1: versioned master secrets for the authenticated cipher and the keyed hash of ID numbers and phones
# (subkeys by HKDF, see relationships/pii.py). PII_KEYS="2:<new>,1:<old>" during and after a rotation; PII_KEY
# alone is version 1. The highest version encrypts and hashes; every listed version still reads.
PII_KEYS = os.environ.get("PII_KEYS", "")
PII_KEY = os.environ.get("PII_KEY") or ("dev-only-pii-key-0123456789abcdef" if DEBUG and not PII_KEYS else None)
if not PII_KEY and not PII_KEYS:
    raise RuntimeError("PII_KEY (or PII_KEYS) must be set when DJANGO_DEBUG is off")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "axes",
    "relationships",
    "permissions",
    "approvals",
    "reservations",
    "performance",
    "django_tables2",
    "django_filters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "permissions.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "permissions.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm_platform.urls"
WSGI_APPLICATION = "crm_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm_platform.context_processors.navigation",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    from crm_platform.embedded_pg import ensure_embedded_database

    DATABASES = {"default": ensure_embedded_database(BASE_DIR)}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
# PostgreSQL's JIT compiles any plan whose estimate passes jit_above_cost: the scoped lists' capped counts
# (estimated over millions of rows, stopping after 10,001) spent seconds compiling and milliseconds running.
# Off for this application's connections unless PG_JIT=on.
if os.environ.get("PG_JIT", "off") != "on":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = (_options.get("options", "") + " -c jit=off").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # R-SEC-AUTH-1: refuses sign-in while locked out
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
FORMAT_MODULE_PATH = ["crm_platform.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", 8 * 3600))
SESSION_COOKIE_HTTPONLY = True
# R-SEC-AUTH-1: idle and absolute limits (permissions.middleware.SessionTimeoutMiddleware), in seconds.
SESSION_IDLE_TIMEOUT = int(os.environ.get("SESSION_IDLE_TIMEOUT", 30 * 60))
SESSION_ABSOLUTE_TIMEOUT = int(os.environ.get("SESSION_ABSOLUTE_TIMEOUT", SESSION_COOKIE_AGE))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SAMESITE = "Lax"
# R-SEC-AUTH-1 (django-axes): sign-in locks for 30 minutes after 5 failures for one user name (guessing one
# account from many places), or from one client (address and browser: spraying many user names). Not by
# address alone, so one office behind one NAT address is not locked out by a colleague's typos.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", 0.5))
AXES_LOCKOUT_PARAMETERS = ["username", ["ip_address", "user_agent"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "permissions/locked.html"
# Static files (the admin's among them) are served by WhiteNoise, also without collectstatic.
WHITENOISE_USE_FINDERS = True
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Celery: with REDIS_URL a real broker and worker; without it tasks run in-process.
REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache carries what several processes must share but need not persist (a feed upload's progress):
# Redis beside the broker, or this process's memory when tasks run in-process anyway.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "crm")}} if REDIS_URL else {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# A task a dead worker had taken is redelivered after this; longer than any pipeline unit or stage.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 6 * 3600)),
    # How often a worker sweeps for such abandoned tasks (kombu's defaults: every 10 s, scanning every 10th time).
    "unacked_restore_interval": int(os.environ.get("CELERY_RESTORE_INTERVAL", 10)),
    "unacked_restore_throttle": int(os.environ.get("CELERY_RESTORE_THROTTLE", 10)),
}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One broker can serve several installations (or test runs) when each has its own queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
# A stage that finds its date busy or an earlier stage unfinished retries after this many seconds.
PIPELINE_RETRY_SECONDS = int(os.environ.get("PIPELINE_RETRY_SECONDS", 30))
CELERY_BEAT_SCHEDULE = {
    "nightly-pipeline": {
        "task": "reservations.tasks.run_nightly_task",
        "schedule": __import__("celery.schedules", fromlist=["crontab"]).crontab(hour=1, minute=30),
    },
}

# Matching works in units of this many opening events, one transaction each (R-MATCH-6).
MATCH_CHUNK_SIZE = int(os.environ.get("MATCH_CHUNK_SIZE", 5000))
MATCH_UNIT_PAUSE_SECONDS = float(os.environ.get("MATCH_UNIT_PAUSE_SECONDS", 0))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
