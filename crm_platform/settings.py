"""Settings come from the environment and fail closed (see README, "Configuration").

Debug is off unless DJANGO_DEBUG asks for it (`./dev` does; production never does). With debug off a missing,
short or placeholder secret, a missing DATABASE_URL or DJANGO_ALLOWED_HOSTS stops the start with a sentence
naming the variable (crm_platform/env.py).
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from crm_platform.env import DEV_PII_KEY, DEV_SECRET_KEY, ConfigurationRefused, env_bool, env_list, pii_keys, secret

# Where templates/, locale/, static/ and fixtures/ are: the project's folder, or CRM_BASE_DIR (the image installs
# the Python packages into its virtualenv and keeps those folders in /app).
BASE_DIR = Path(os.environ.get("CRM_BASE_DIR") or Path(__file__).resolve().parent.parent)

DEBUG = env_bool("DJANGO_DEBUG", False)

# The image's build step (`manage.py collectstatic` in the Dockerfile) has no secret, database or network.
# DJANGO_BUILD_STEP=1 lets exactly that command import these settings: throw-away random keys, no database,
# no allowed host. Anything else started with it (gunicorn, celery, runserver, migrate...) is refused here,
# so the switch cannot be used to serve.
BUILD_STEP = env_bool("DJANGO_BUILD_STEP", False)
BUILD_STEP_COMMANDS = {"collectstatic", "compilemessages"}
if BUILD_STEP and (DEBUG or Path(sys.argv[0]).name != "manage.py" or sys.argv[1:2] == []
                   or sys.argv[1] not in BUILD_STEP_COMMANDS):
    raise ConfigurationRefused("DJANGO_BUILD_STEP=1 is only for `manage.py collectstatic` while the image is "
                               "built; unset it to run anything else")

if BUILD_STEP:
    SECRET_KEY = PII_KEY = secrets.token_urlsafe(64)
    PII_KEYS = ""
    ALLOWED_HOSTS: list[str] = []
else:
    SECRET_KEY = secret("DJANGO_SECRET_KEY", debug=DEBUG, dev_default=DEV_SECRET_KEY, min_length=50,
                        min_distinct=10)
    # R-PII-1: versioned master secrets for the authenticated cipher and the keyed hash of ID numbers and phones
    # (subkeys by HKDF, relationships/pii.py). PII_KEYS="2:<new>,1:<old>" during and after a rotation; PII_KEY
    # alone is version 1. The highest version encrypts and hashes; every listed version still reads. With debug
    # off every one of them must be a real secret.
    PII_KEYS = pii_keys("PII_KEYS", debug=DEBUG, min_length=32, min_distinct=10)
    PII_KEY = "" if PII_KEYS and not os.environ.get("PII_KEY") else secret(
        "PII_KEY", debug=DEBUG, dev_default=DEV_PII_KEY, min_length=32, min_distinct=10)
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or (
        ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
    if not ALLOWED_HOSTS:
        raise ConfigurationRefused("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off: the host names "
                                   "the site answers to, comma-separated (e.g. crm.example.com)")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

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
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "pgtrigger",  # the append-only guards declared beside their models (common/guards.py)
    "relationships",
    "permissions",
    "approvals",
    "reservations",
    "performance",
    "django_tables2",
    "django_filters",
    "health_check",
    "django_guid",
]

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",  # the request id of every log line (crm_platform/logs.py)
    "crm_platform.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "permissions.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "permissions.middleware.SessionTimeoutMiddleware",
    "permissions.otp.SecondFactorMiddleware",  # R-SEC-AUTH-2: unverified second-factor users reach only its pages
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
                "permissions.otp.second_factor_context",
            ],
        },
    },
]

if BUILD_STEP:
    DATABASES: dict = {}  # Django's dummy backend: any query at build time is an error
elif os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
elif DEBUG:
    # The embedded PostgreSQL (pgserver, a development dependency) only ever starts here: debug on and no
    # DATABASE_URL.
    from crm_platform.embedded_pg import ensure_embedded_database

    DATABASES = {"default": ensure_embedded_database(BASE_DIR)}
else:
    raise ConfigurationRefused("DATABASE_URL must be set when DJANGO_DEBUG is off (the embedded PostgreSQL is "
                               "for development only)")
if DATABASES:
    DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
# PostgreSQL's JIT compiles any plan whose estimate passes jit_above_cost: the scoped lists' capped counts
# (estimated over millions of rows, stopping after 10,001) spent seconds compiling and milliseconds running.
# Off for this application's connections unless PG_JIT=on.
if DATABASES and os.environ.get("PG_JIT", "off") != "on":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = (_options.get("options", "") + " -c jit=off").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# R-SEC-AUTH-2: with LDAP_SERVER_URI the directory (django-auth-ldap) signs staff in; an account the directory
# knows never falls back to a local password. Without it local passwords work as before (permissions/ldap_config.py).
from permissions.ldap_config import directory_settings  # noqa: E402

_directory = directory_settings(os.environ, debug=DEBUG)
globals().update(_directory)  # AUTH_LDAP_* for django-auth-ldap, DIRECTORY_*, LDAP_GROUP_ROLES
DIRECTORY_ENABLED = _directory["DIRECTORY_ENABLED"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # R-SEC-AUTH-1: refuses sign-in while locked out
    *(["permissions.ldap.DirectoryBackend"] if DIRECTORY_ENABLED else []),
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
# R-SEC-AUTH-2: HQ roles, the admin site and roles that reveal full ID numbers need a TOTP second factor
# (django-otp). It can be turned off only for development (debug on): production fails closed.
OTP_REQUIRED = env_bool("OTP_REQUIRED", True)
if not OTP_REQUIRED and not DEBUG:
    raise ConfigurationRefused("OTP_REQUIRED=0 is only allowed with DJANGO_DEBUG on: the second factor protects "
                               "production")
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "CRM")
OTP_RECOVERY_CODES = 10
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
# R-SEC-AUTH-1 (django-axes): an account locks for 30 minutes after 5 failed sign-ins with its user name, from
# anywhere. Only the account: never the address or the browser, so the colleagues behind one office NAT address
# with the same browser build keep signing in. User names are compared case-insensitively (the directory does).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", 0.5))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "permissions.signin.axes_username"
AXES_RESET_ON_SUCCESS = True
# Issue 19: axes' own admin pages (attempts, access logs) have no Chinese; lockouts are read and lifted in the
# project's translated *Locked accounts* (permissions.LockedAccount), the one place README points to.
AXES_ENABLE_ADMIN = False
# Attempts during a lockout do not prolong it: the page's "locked until" stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "permissions.signin_views.lockout_response"
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    AXES_CLIENT_IP_CALLABLE = "permissions.signin.client_ip_behind_proxy"
# Spraying (a few passwords against many accounts from one address) is slowed, never blocked: once an address
# has this many failures within the cool-off, every sign-in from it waits SIGNIN_ADDRESS_DELAY seconds before the
# password is checked, right or wrong alike (a faster success would tell the sprayer when to stop waiting).
SIGNIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("SIGNIN_ADDRESS_FAILURE_LIMIT", 20))
SIGNIN_ADDRESS_DELAY = float(os.environ.get("SIGNIN_ADDRESS_DELAY", 3))
# axes.W006 asks for the address among the lockout parameters; locking by address is what R-SEC-AUTH-1 forbids
# (one office, one NAT address). Rotating browsers or cookies gains nothing against a lock on the user name.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Static files (the admin's among them) are served by WhiteNoise, also without collectstatic.
WHITENOISE_USE_FINDERS = True
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # The containers' probes call gunicorn directly over plain HTTP (the TLS proxy is in front of users only).
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
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

# R-APR-9: a step (or an overdue callback) waiting this many working days is reminded to its holders, and then
# escalated to the branch head (HQ steps: HQ's office). The nightly stage "reminders" does both; the digest is
# sent every morning.
APPROVAL_REMIND_DAYS = int(os.environ.get("APPROVAL_REMIND_DAYS", 2))
APPROVAL_ESCALATE_DAYS = int(os.environ.get("APPROVAL_ESCALATE_DAYS", 5))
CELERY_BEAT_SCHEDULE["leavers-attach"] = {  # R-ATT-2 / R-STAFF-1: a leaving recorded ahead takes effect on its day
    "task": "permissions.tasks.leavers_attach_close_task",
    "schedule": __import__("celery.schedules", fromlist=["crontab"]).crontab(hour=0, minute=15),
}
CELERY_BEAT_SCHEDULE["daily-digest"] = {
    "task": "approvals.tasks.send_digests_task",
    "schedule": __import__("celery.schedules", fromlist=["crontab"]).crontab(hour=7, minute=30),
}
# E-mail (R-APR-9): Django's mail framework. Development prints to the console (or EMAIL_FILE_PATH with the file
# backend); production sends through EMAIL_HOST. Each message is sent by a Celery task after the commit.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "test-artifacts" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 30))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "crm@localhost")
# The address the links in an e-mail start with.
SITE_URL = os.environ.get("CRM_SITE_URL", "http://127.0.0.1:8000")
MAIL_RETRY_SECONDS = int(os.environ.get("MAIL_RETRY_SECONDS", 60))

# Matching works in units of this many opening events, one transaction each (R-MATCH-6).
MATCH_CHUNK_SIZE = int(os.environ.get("MATCH_CHUNK_SIZE", 5000))
MATCH_UNIT_PAUSE_SECONDS = float(os.environ.get("MATCH_UNIT_PAUSE_SECONDS", 0))

# --------------------------------------------------------------------------------------------------
# Operations: logs, request ids, task time limits, error pages (README, "Operations")
# --------------------------------------------------------------------------------------------------
# JSON lines in production (python-json-logger; time in +08:00, level, logger, request_id, user, and per request
# method, path, status, duration_ms; task_id inside Celery tasks); readable lines with the same fields under debug.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "crm_platform.logs.ContextFilter"}},
    "formatters": {"json": {"()": "crm_platform.logs.JsonFormatter"},
                   "text": {"()": "crm_platform.logs.TextFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler would print a second, unstructured copy: everything goes through root.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "WARNING", "propagate": True},  # crm.request has each request
        "django_guid": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django_auth_ldap": {"level": "WARNING"},
    },
}
# django-guid: the caller's X-Request-ID when it is a valid UUID, else a new one; returned in the response and
# carried into the Celery tasks a request sends (whose worker then logs with settings.LOGGING as well).
from django_guid.integrations import CeleryIntegration  # noqa: E402

DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": False,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True)],
}
# Celery time limits per kind of task (seconds): the soft limit raises SoftTimeLimitExceeded inside the task,
# whose transaction then rolls back (a nightly stage resumes from its last committed unit, R-MATCH-6); the hard
# limit kills the worker process. The stage's hard limit stays below the broker's visibility timeout (6 h).
CELERY_TASK_SOFT_TIME_LIMIT = 10 * 60  # any task not named below
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_ANNOTATIONS = {
    "reservations.tasks.run_nightly_task": {"soft_time_limit": 60, "time_limit": 120},  # only sends the chain
    "reservations.tasks.run_stage_task": {"soft_time_limit": 4 * 3600, "time_limit": 4 * 3600 + 600},
    "reservations.tasks.load_feed_upload_task": {"soft_time_limit": 30 * 60, "time_limit": 35 * 60},
    "performance.tasks.compute_period_task": {"soft_time_limit": 2 * 3600, "time_limit": 2 * 3600 + 600},
    "approvals.tasks.send_mail_task": {"soft_time_limit": 60, "time_limit": 90},
    "approvals.tasks.send_digests_task": {"soft_time_limit": 20 * 60, "time_limit": 25 * 60},
}
# 403, 404 and 500 pages (templates/) in the page's language, never a trace; a refused form (CSRF) the same way.
CSRF_FAILURE_VIEW = "crm_platform.errors.csrf_failure"
