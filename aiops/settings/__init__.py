"""Django settings, read from the environment (see README "Configuration").

Defaults make a laptop work with nothing installed: a SQLite file and Celery
running tasks in-process. DATABASE_URL and REDIS_URL switch to PostgreSQL and
Redis; DJANGO_ENV=production turns on the hardened profile.
"""
from __future__ import annotations

from pathlib import Path

import dj_database_url

from ..beat import beat_schedule
from ..env import ImproperEnv, env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DJANGO_ENV = env_choice("DJANGO_ENV", "development", {"development", "production", "test"})
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperEnv("DEBUG must be false when DJANGO_ENV=production")

_DEV_SECRET = "django-insecure-dev-only-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY", required=PRODUCTION) or _DEV_SECRET
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperEnv("SECRET_KEY must be a random string of at least 50 characters in production")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver", "[::1]"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperEnv("ALLOWED_HOSTS must list the host names the service answers on")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute URL people reach the UI at; used for links in notifications.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "incidents",
    "monitoring",
    "models_registry",
    "aiops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: chunked bodies made readable, oversized ones answered 413 JSON.
    "core.http.RequestBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages need a login; the API answers 401 itself (see core.middleware).
    "core.middleware.PagesLoginRequiredMiddleware",
    # ...and a role: a signed-in person without one gets 403, as from the API.
    "core.middleware.PagesRoleRequiredMiddleware",
    # A NUL in a form field or query string is a 400, not PostgreSQL's 500.
    "core.middleware.NulInFormMiddleware",
    # An id in the URL beyond 64 bits is a 404, not the database driver's overflow (a 500).
    "core.middleware.OversizedIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A database outage answers 503 + Retry-After, not a 500 page (see core.unavailable).
    "core.middleware.DatabaseUnavailableMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "aiops.urls"
WSGI_APPLICATION = "aiops.wsgi.application"

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
                "core.context_processors.roles",
                "incidents.context_processors.notifications",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'aiops.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
except Exception as exc:  # dj_database_url raises bare ValueErrors with poor messages
    raise ImproperEnv(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL + a busy timeout let the in-process worker and the web thread share the file.
    _db.setdefault("OPTIONS", {}).update({"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"})
    _db["CONN_MAX_AGE"] = 0
if env_str("TEST_DATABASE_NAME"):
    _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
DATABASES = {"default": _db}
IS_POSTGRES = _db["ENGINE"].startswith("django.db.backends.postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery --------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "aiops"),
            # An unreachable Redis (not merely refusing) must not stall a request: rate-limit
            # leases and caches give up after this and fall back per process.
            "OPTIONS": {
                "socket_connect_timeout": env_float("REDIS_SOCKET_TIMEOUT", 1.0),
                "socket_timeout": env_float("REDIS_SOCKET_TIMEOUT", 1.0),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker, tasks run in-process at .delay() time (the laptop default).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# CELERY_BEAT_SCHEDULE is the table in aiops/beat.py, set at the end (it reads the sweep periods).

# --- Auth ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.IntegrationTokenAuthentication",
        "core.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.RolePermission"],
    # JSON with a nesting limit (400, not a RecursionError 500); forms as DRF's defaults.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AIOps incident management API",
    "DESCRIPTION": "Telemetry and alert intake, incidents, playbooks and model supervision.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.agent_paths_hook"],
    "COMPONENT_SPLIT_REQUEST": True,
    # People with a role, as every page; integration tokens (agents) read nothing.
    "SERVE_PERMISSIONS": ["core.permissions.RolePermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; name each choice set after its owner so the schema is stable.
    "ENUM_NAME_OVERRIDES": {
        "TrainingRunStatusEnum": "models_registry.choices.TrainingRunStatus",
        "ModelVersionStatusEnum": "models_registry.choices.VersionStatus",
        "ModelMonitorStatusEnum": "models_registry.choices.MonitorStatus",
        "ModelMonitorKindEnum": "models_registry.choices.MonitorKind",
        "ModelMonitorTriggerEnum": "models_registry.choices.MonitorTrigger",
        "PlaybookPhaseEnum": "incidents.choices.PlaybookPhase",
        "PlaybookStepKindEnum": "incidents.choices.StepKind",
        "PlaybookStepStatusEnum": "incidents.choices.StepStatus",
        "DeliveryKindEnum": "incidents.choices.DeliveryKind",
        "DeliveryStatusEnum": "incidents.choices.DeliveryStatus",
        "ChannelKindEnum": "incidents.choices.ChannelKind",
        "IncidentStatusEnum": "incidents.choices.IncidentStatus",
        "SeverityEnum": "incidents.choices.Severity",
        "ReviewStatusEnum": "incidents.choices.ReviewStatus",  # issue 11
        "ActionItemStatusEnum": "incidents.choices.ActionItemStatus",  # issue 11
        "CostLineCategoryEnum": "incidents.choices.CostLineCategory",  # issue 11
        "CostCategoryEnum": "models_registry.choices.CostCategory",  # issue 11
    },
}

# --- Content-Security-Policy (django-csp) ---------------------------------------------
# Scripts only from our own origin: page scripts live in static/js and Swagger UI's start-up
# script is served by the split docs view, so an injected <script> never runs. Styles allow
# 'unsafe-inline' because templates and Swagger UI use style attributes; styles cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],  # Swagger UI's icons are data: URIs
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Intake limits -------------------------------------------------------------
# Upper bound on an API request body; per-endpoint limits are tighter.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 16 * 1024 * 1024, minimum=1024)
INTEGRATION_RATE_LIMIT_PER_MINUTE = env_int("INTEGRATION_RATE_LIMIT_PER_MINUTE", 60_000, minimum=1)

# --- E-mail ----------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "aiops@localhost")

# --- Files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
ARTIFACT_DIR = Path(env_str("ARTIFACT_DIR", str(BASE_DIR / "var" / "artifacts")))

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# --- issue 12: one date format with its time zone on every page ({{ when }} and |date with no format).
FORMAT_MODULE_PATH = ["aiops.formats"]
# --- end issue 12

# --- Sessions and tokens (#16) ------------------------------------------------------
# A signed-in browser session lasts a shift by default, then asks for the password again.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE_SECONDS", 12 * 3600, minimum=300)
SESSION_COOKIE_SAMESITE = "Lax"
# A person's API token stops working this many days after it was created (0: never).
API_TOKEN_MAX_AGE_DAYS = env_int("API_TOKEN_MAX_AGE_DAYS", 90, minimum=0)
# Agents' integration tokens: rotated by the team's own policy, so no expiry unless set (0: never).
INTEGRATION_TOKEN_MAX_AGE_DAYS = env_int("INTEGRATION_TOKEN_MAX_AGE_DAYS", 0, minimum=0)

# --- Production hardening (what `check --deploy` asks for) -------------------------
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    # Health checks come from load balancers over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # In-process tasks (no broker): the scheduler's sweeps every few seconds would fill the console with
        # "Task ... succeeded" lines; failures still show.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

# --- The apps' own settings, each with its reasons --------------------------------------------------
from .model_registry import *  # noqa: E402, F403
from .pipeline import *  # noqa: E402, F403
from .pipeline import ALERT_INTAKE_SWEEP_SECONDS, NOTIFY_SWEEP_SECONDS  # noqa: E402  (the beat table reads them)

# --- Periodic tasks: the one beat table (aiops/beat.py), after the settings it reads ---------------
CELERY_BEAT_SCHEDULE = beat_schedule(
    alert_intake_sweep_seconds=ALERT_INTAKE_SWEEP_SECONDS, notify_sweep_seconds=NOTIFY_SWEEP_SECONDS
)

# --- Issue 16: operations (in-process scheduler, /metrics, heartbeat, self-check, drills) -----
# Without a broker (tasks in-process, `make run`) `runserver` runs beat's table in a thread, so
# escalation timers and sweeps fire on a laptop as in production; false turns it off.
INPROCESS_SCHEDULER = env_bool("INPROCESS_SCHEDULER", True)
# Intake requests counted by kind and outcome for /metrics (outermost, so it sees the 503s too).
MIDDLEWARE.insert(1, "core.metrics.IntakeCountMiddleware")
# /metrics (Prometheus text) answers a scraper sending `Authorization: Bearer <METRICS_TOKEN>`, or a
# signed-in admin; with no token set only admins can read it.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# The dead man's switch (healthchecks.io, Cronitor, Alertmanager's Watchdog receiver...): beat's
# heartbeat GETs this URL every minute while no queue is stalled; empty sends nothing.
HEARTBEAT_URL = env_str("HEARTBEAT_URL", "")
# A queue whose oldest item waited longer than this is "not draining": the self-check raises a
# critical incident on SELF_CHECK_SERVICE and the heartbeat stops. Level 1's ack target is 5 min.
SELF_CHECK_STALL_SECONDS = env_float("SELF_CHECK_STALL_SECONDS", 300.0)
SELF_CHECK_SERVICE = env_str("SELF_CHECK_SERVICE", "aiops")
SELF_CHECK_TEAM = env_str("SELF_CHECK_TEAM", "Platform")
