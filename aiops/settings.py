"""Django settings, read from the environment (see README "Configuration").

Defaults make a laptop work with nothing installed: a SQLite file and Celery
running tasks in-process. DATABASE_URL and REDIS_URL switch to PostgreSQL and
Redis; DJANGO_ENV=production turns on the hardened profile.
"""
from __future__ import annotations

import json
from pathlib import Path

import dj_database_url

from .beat import beat_schedule
from .env import ImproperEnv, env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

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

# --- Model registry: training, gate, serving ---------------------------------------
# A training run past this is killed by Celery (soft limit records FAILED) and failed by the reaper.
MODEL_TRAINING_TIME_LIMIT = env_int("MODEL_TRAINING_TIME_LIMIT", 900, minimum=30)
# OpenMP threads per training run. One: workers share cores, and gradient boosting's thread team
# spin-waits under contention (measured 1.8 s single-threaded vs 31 s CPU with 2 threads on a busy box).
MODEL_TRAINING_THREADS = env_int("MODEL_TRAINING_THREADS", 1, minimum=1)
# Train on this many days before the holdout; evaluate on the most recent holdout window.
MODEL_TRAIN_WINDOW_DAYS = env_int("MODEL_TRAIN_WINDOW_DAYS", 90, minimum=7)
MODEL_HOLDOUT_DAYS = env_int("MODEL_HOLDOUT_DAYS", 14, minimum=1)
# Share of journeys the stuck-journey alert team can review: recall/precision are measured there.
MODEL_ALERT_BUDGET = env_float("MODEL_ALERT_BUDGET", 0.10)
# Gate, journey time (minutes): absolute bar, then the minimum relative MAE gain over the champion.
GATE_JOURNEY_MAX_MAE = env_float("GATE_JOURNEY_MAX_MAE", 40.0)
GATE_JOURNEY_MAX_OPTIMISTIC_SHARE = env_float("GATE_JOURNEY_MAX_OPTIMISTIC_SHARE", 0.35)
GATE_JOURNEY_MIN_MAE_GAIN = env_float("GATE_JOURNEY_MIN_MAE_GAIN", 0.01)
# Gate, stuck journeys: absolute bars at the alert budget, then the minimum recall gain (absolute).
GATE_STUCK_MIN_RECALL = env_float("GATE_STUCK_MIN_RECALL", 0.20)
GATE_STUCK_MIN_PRECISION = env_float("GATE_STUCK_MIN_PRECISION", 0.20)
GATE_STUCK_MIN_RECALL_GAIN = env_float("GATE_STUCK_MIN_RECALL_GAIN", 0.005)
# A secondary business metric (optimistic share, precision) may not get worse than this (absolute).
GATE_MAX_SECONDARY_REGRESSION = env_float("GATE_MAX_SECONDARY_REGRESSION", 0.02)

# --- Model monitors (drift, performance, bias, operational) -------------------------
# Drift effect-size bars; a feature counts as drifted only when the test is also significant.
MONITOR_PSI_DRIFT = env_float("MONITOR_PSI_DRIFT", 0.2)  # industry convention: >0.2 significant shift
MONITOR_KS_DRIFT = env_float("MONITOR_KS_DRIFT", 0.1)
MONITOR_CRAMERS_V_DRIFT = env_float("MONITOR_CRAMERS_V_DRIFT", 0.1)  # Cohen's "small" effect
# Features that differ from the training window by construction (the calendar month of a later
# period never occurs in the window it was trained on): drift there is certain and means nothing.
MONITOR_DRIFT_IGNORE_FEATURES = env_list("MONITOR_DRIFT_IGNORE_FEATURES", ["month"])
# Prediction drift (PSI of the served predictions vs the training reference's) that pages on its own.
MONITOR_PREDICTION_PSI_BREACH = env_float("MONITOR_PREDICTION_PSI_BREACH", 0.5)
# Performance vs the version's validation metrics: relative MAE degradation, absolute share/recall points.
MONITOR_MAE_WARNING_RATIO = env_float("MONITOR_MAE_WARNING_RATIO", 0.10)
MONITOR_MAE_BREACH_RATIO = env_float("MONITOR_MAE_BREACH_RATIO", 0.20)
MONITOR_SHARE_WARNING_POINTS = env_float("MONITOR_SHARE_WARNING_POINTS", 0.05)
MONITOR_SHARE_BREACH_POINTS = env_float("MONITOR_SHARE_BREACH_POINTS", 0.10)
# Fewer labelled predictions than this in a period: performance is "no data", never a breach.
MONITOR_MIN_ACTUALS = env_int("MONITOR_MIN_ACTUALS", 200, minimum=1)
# Bias: worst segment vs overall (> 1 = worse).
MONITOR_BIAS_WARNING_RATIO = env_float("MONITOR_BIAS_WARNING_RATIO", 1.5)
MONITOR_BIAS_BREACH_RATIO = env_float("MONITOR_BIAS_BREACH_RATIO", 2.0)
# Operational: p99 latency of a prediction request (ms) and the share of failed requests.
MONITOR_LATENCY_P99_WARNING_MS = env_float("MONITOR_LATENCY_P99_WARNING_MS", 50.0)
MONITOR_LATENCY_P99_BREACH_MS = env_float("MONITOR_LATENCY_P99_BREACH_MS", 250.0)
MONITOR_ERROR_RATE_WARNING = env_float("MONITOR_ERROR_RATE_WARNING", 0.01)
MONITOR_ERROR_RATE_BREACH = env_float("MONITOR_ERROR_RATE_BREACH", 0.05)
# The scheduled pass looks back this many days (labels arrive late: yesterday's are incomplete).
MONITOR_PERIOD_DAYS = env_int("MONITOR_PERIOD_DAYS", 7, minimum=1)

# --- Model operations (issue #14): batch scoring, at-risk list, shadow, data quality, weekly report ---
# Uploads above this are refused with 413 before anything is stored (a day of journeys is ~20 MB).
BATCH_SCORING_MAX_BYTES = env_int("BATCH_SCORING_MAX_BYTES", 500 * 1024 * 1024, minimum=1)
# Rows read, checked and scored per step: progress granularity, ~60 MB of pandas per step.
BATCH_SCORING_CHUNK_ROWS = env_int("BATCH_SCORING_CHUNK_ROWS", 100_000, minimum=100)
# The daily at-risk list: the stuck-journey model ranks, the journey-time model forecasts.
AT_RISK_MODEL = env_str("AT_RISK_MODEL", "stuck-journey")
AT_RISK_FORECAST_MODEL = env_str("AT_RISK_FORECAST_MODEL", "journey-time")
# Journeys departing within this many hours are "open": lists overlap a day, so handled marks carry over.
AT_RISK_HORIZON_HOURS = env_int("AT_RISK_HORIZON_HOURS", 48, minimum=1)
# Journeys the ops team can triage per day: the list's precision is tracked at this depth.
AT_RISK_CAPACITY = env_int("AT_RISK_CAPACITY", 100, minimum=1)
# Top journeys explained (feature contributions): an occlusion pass costs features x rows scorings.
AT_RISK_EXPLAIN_TOP = env_int("AT_RISK_EXPLAIN_TOP", 300, minimum=0)
# Precision at capacity below this breaches: twice the ~10 % base rate of stuck journeys (a list no
# better than that is not worth the team's morning).
AT_RISK_MIN_PRECISION = env_float("AT_RISK_MIN_PRECISION", 0.20)
# Shadow scoring runs on a thread pool after the champion's answer; "inline" (tests) scores in the request.
MODEL_SHADOW_MODE = env_choice("MODEL_SHADOW_MODE", "thread", {"thread", "inline"})
# Live rows with actuals needed before the gate uses the shadow comparison.
MODEL_SHADOW_MIN_LIVE_ROWS = env_int("MODEL_SHADOW_MIN_LIVE_ROWS", 200, minimum=1)
# Data quality (defaults per check; per-feature overrides as JSON, e.g. {"wind_gust": {"null_rate": 0.9}}).
# Null rate: absolute increase over the training reference's null rate that breaches.
MONITOR_DQ_NULL_RATE = env_float("MONITOR_DQ_NULL_RATE", 0.10)
# Share of values outside the training reference's [min, max] (widened by 10 % of the range).
MONITOR_DQ_OUT_OF_RANGE = env_float("MONITOR_DQ_OUT_OF_RANGE", 0.05)
# Share of category values never seen in training (the model sends them down the missing branch).
MONITOR_DQ_UNKNOWN_CATEGORY = env_float("MONITOR_DQ_UNKNOWN_CATEGORY", 0.05)
# Share of rows refused for a wrong type (batch bad rows and refused prediction requests).
MONITOR_DQ_TYPE_ERRORS = env_float("MONITOR_DQ_TYPE_ERRORS", 0.01)
try:
    MONITOR_DQ_FEATURE_THRESHOLDS = json.loads(env_str("MONITOR_DQ_FEATURE_THRESHOLDS", "{}"))
except json.JSONDecodeError as exc:
    raise ImproperEnv(f"MONITOR_DQ_FEATURE_THRESHOLDS is not JSON: {exc}") from None
if not isinstance(MONITOR_DQ_FEATURE_THRESHOLDS, dict):
    raise ImproperEnv("MONITOR_DQ_FEATURE_THRESHOLDS must be a JSON object of {feature: {check: bar}}")
# Freshness: a silent upstream is an incident. Hours since the last prediction / the last actual.
MONITOR_FRESHNESS_PREDICTION_HOURS = env_float("MONITOR_FRESHNESS_PREDICTION_HOURS", 24.0)
MONITOR_FRESHNESS_ACTUAL_HOURS = env_float("MONITOR_FRESHNESS_ACTUAL_HOURS", 72.0)
# Output validation: share of predictions outside the plausible range that breaches.
MONITOR_OUTPUT_INVALID_SHARE = env_float("MONITOR_OUTPUT_INVALID_SHARE", 0.01)

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

# Tolerance the anomaly and intake code use for clocks that run ahead.
MAX_FUTURE_SKEW_SECONDS = env_int("MAX_FUTURE_SKEW_SECONDS", 300, minimum=0)

# --- Telemetry: retention and anomaly signals ------------------------------------------
# Raw points older than this are rolled into hourly rollups (min/max/mean/count) and deleted.
POINT_RETENTION_DAYS = env_int("POINT_RETENTION_DAYS", 30, minimum=1)
# Anomalies older than this when detected (a backfill of history) are stored but raise no signal:
# nobody should be paged for last week.
ANOMALY_SIGNAL_MAX_AGE_SECONDS = env_int("ANOMALY_SIGNAL_MAX_AGE_SECONDS", 3600, minimum=1)
# Points up to this much older (event time) than the newest scored point of their series are
# still scored in order: the series is rescored from a checkpoint that trails by at least this.
# Older points are stored but not scored.
TELEMETRY_ALLOWED_LATENESS_SECONDS = env_float("TELEMETRY_ALLOWED_LATENESS_SECONDS", 3600.0)
# A detect worker keeps detector states in memory and writes them to the series rows when it
# hands over, and at least this often: what a worker that dies loses, its successor replays.
DETECT_STATE_PERSIST_SECONDS = env_float("DETECT_STATE_PERSIST_SECONDS", 30.0)
# The drains (telemetry ingest and detection, alert intake) are partitioned: ingest and alert intake
# by integration, detection by service; one worker at a time drains a partition, in order, so this
# many worker processes (on any number of machines) drain in parallel. At least workers x machines;
# change it only while the queues are empty (README, "Scaling the drains").
DRAIN_PARTITIONS = env_int("DRAIN_PARTITIONS", 8, minimum=1)
# A telemetry drain renews its partition's lease every step; one not renewed this long (its worker
# died) is taken over. Longer than the slowest step (about a second), short enough to resume quickly.
DRAIN_LEASE_SECONDS = env_float("DRAIN_LEASE_SECONDS", 15.0)

# --- Alert intake (Alertmanager, Grafana, PagerDuty Events v2) ---------------------------
# A drain's claim on intake rows lasts this long unless the drain holds them (a row lock, freed
# when its worker dies); past it, another worker takes them over. Level 1's target is 5 minutes.
ALERT_INTAKE_LEASE_SECONDS = env_float("ALERT_INTAKE_LEASE_SECONDS", 10.0)
# The sweep takes over dead claims and drains rows whose drain request was lost.
ALERT_INTAKE_SWEEP_SECONDS = env_float("ALERT_INTAKE_SWEEP_SECONDS", 5.0)

# --- Notifications, escalation and digests -------------------------------------------------
# Escalation timers live in the database (Escalation.next_at) and this sweep runs them, so a
# broker restart that loses every message loses no timer; it also re-sends deliveries whose
# worker died. Seconds, so a page waits at most this long behind a lost message.
NOTIFY_SWEEP_SECONDS = env_float("NOTIFY_SWEEP_SECONDS", 5.0)
# A claimed ("sending") delivery holds a lease of its channel's timeout plus this margin; past
# it the worker is presumed dead and the sweep sends again (the claim still lets one sender win).
NOTIFY_LEASE_MARGIN_SECONDS = env_float("NOTIFY_LEASE_MARGIN_SECONDS", 5.0)
# A pending delivery no worker took within this (lost message, notify worker down) is sent by
# the sweep itself.
NOTIFY_PENDING_GRACE_SECONDS = env_float("NOTIFY_PENDING_GRACE_SECONDS", 15.0)

# --- Incident core: noise control sweeps and the severity classifier -------------------------
# The trained severity classifier (manage.py train_severity) proposes a level next to the rules;
# false keeps only the rules even when a trained model exists.
SEVERITY_CLASSIFIER_ENABLED = env_bool("SEVERITY_CLASSIFIER_ENABLED", True)
# On PostgreSQL a new alert joining an open incident takes one read and one write (fast_join.py);
# false sends every signal down the general path (the property test replays histories both ways).
INCIDENTS_FAST_PATH = env_bool("INCIDENTS_FAST_PATH", True)

# --- Issue 11: post-incident reviews, action items, incident cost, reports -------------------
# One currency for every incident cost and report (ISO 4217); cost lines in another are refused.
COST_CURRENCY = env_str("COST_CURRENCY", "EUR").strip().upper()
# Responder time: a yearly salary over 2,080 working hours (52 weeks x 40 h), as Netflix Dispatch does.
INCIDENT_COST_HOURLY_RATE = env_str("INCIDENT_COST_HOURLY_RATE", "")  # empty: 50,000 / 2,080
# Levels whose incidents need a published review before they may be closed (comma-separated).
REVIEW_REQUIRED_LEVELS = tuple(int(v) for v in env_list("REVIEW_REQUIRED_LEVELS", ["1", "2"]))
# A review is due this many business days (Mon-Fri, in the team's time zone) after resolution.
REVIEW_DUE_BUSINESS_DAYS = env_int("REVIEW_DUE_BUSINESS_DAYS", 5, minimum=1)
# A finished action item is watched this long for a recurrence before it is marked "held".
ACTION_ITEM_WATCH_DAYS = env_int("ACTION_ITEM_WATCH_DAYS", 30, minimum=1)
# --- Console (issue 12): SLA clocks per level and live updates -------------------------------
# Time to acknowledge / to resolve per level, "level:ack/resolve" in minutes, "-" for no target
# (Level 4 is handled in the digest, so nobody is chased to acknowledge it). Acknowledge targets
# match the escalation timers (incidents/choices.py SEVERITY_ACK_TARGETS).
INCIDENTS_SLA = env_str("INCIDENTS_SLA", "1:5/240,2:15/480,3:240/4320,4:-/20160")
# A clock is "at risk" once less than this share of its target remains.
INCIDENTS_SLA_AT_RISK = env_float("INCIDENTS_SLA_AT_RISK", 0.25)
# How often an open queue asks the server what changed (seconds): a cheap indexed read.
CONSOLE_POLL_SECONDS = env_int("CONSOLE_POLL_SECONDS", 5, minimum=1)
# --- Issue 13: capacity forecasts (time to exhaustion) -------------------------------------------
# A capacity series raises a signal when its trend's upper bound reaches the limit within this horizon.
CAPACITY_HORIZON_HOURS = env_int("CAPACITY_HORIZON_HOURS", 7 * 24, minimum=1)
# The trend is fitted on this much recent history: long enough to see through a daily cycle, short
# enough that last month's cleanup does not hide this week's growth.
CAPACITY_FIT_HOURS = env_int("CAPACITY_FIT_HOURS", 72, minimum=6)
# --- #11 Learning and accounting: model and service cost, ROI, cost forecasts ---------------
# Model and service costs use COST_CURRENCY (above), the one currency of every cost and report.
# FOCUS rows are allocated to a model by this tag (`model=<name>`), else to a service by `service=<name>`.
COST_ALLOCATION_TAG = env_str("COST_ALLOCATION_TAG", "model")
# A month costing more than this multiple of the median of the three before it is a cost spike.
COST_SPIKE_FACTOR = env_float("COST_SPIKE_FACTOR", 1.5)

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
