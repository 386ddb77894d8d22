"""Settings for mailsetup, read from the environment.

Every setting has a working default for the embedded run (SQLite, a broker on the filesystem, console email).
With DEBUG off the app refuses to start on a development secret.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules
# Runtime files (SQLite database, the filesystem broker's queue, beat's schedule). Tests keep theirs apart.
VAR_DIR = Path(os.environ.get("MAILSETUP_VAR_DIR") or (BASE_DIR / "var" / ("test" if TESTING else "")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdef"
# A Fernet key for development only: production refuses it.
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMDEyMzQ1Njc="


def env(name: str, default: str = "") -> str:
    """A setting from the environment, or from the file named by <NAME>_FILE (for secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = env(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str) -> int:
    value = env(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "true")
SECRET_KEY = env("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Encryption of DKIM private keys at rest: comma-separated Fernet keys; the first encrypts, all decrypt.
MAILSETUP_ENCRYPTION_KEYS = envlist("MAILSETUP_ENCRYPTION_KEYS", DEV_ENCRYPTION_KEY)
# Server key for the keyed hash of SMTP secrets (HMAC-SHA256). Defaults to one derived from SECRET_KEY.
MAILSETUP_CREDENTIAL_KEY = env("MAILSETUP_CREDENTIAL_KEY", "")

if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 40:
        raise ImproperlyConfigured("SECRET_KEY must be set to a long random value when DEBUG is off.")
    if DEV_ENCRYPTION_KEY in MAILSETUP_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "MAILSETUP_ENCRYPTION_KEYS must be set when DEBUG is off "
            '(generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )

# The platform's own DNS and SMTP facts, as the operator configures them.
MAILSETUP_SMTP_HOST = env("MAILSETUP_SMTP_HOST", "smtp.mailsetup.test")
MAILSETUP_RETURN_PATH_HOST = env("MAILSETUP_RETURN_PATH_HOST", "bounces.mailsetup.test").rstrip(".").lower()
MAILSETUP_SPF_INCLUDE = env("MAILSETUP_SPF_INCLUDE", "spf.mailsetup.test").rstrip(".").lower()
MAILSETUP_DMARC_RUA = env("MAILSETUP_DMARC_RUA", "dmarc-reports@mailsetup.test")
MAILSETUP_DNS_RESOLVERS = envlist("MAILSETUP_DNS_RESOLVERS")
MAILSETUP_DNS_TIMEOUT = float(env("MAILSETUP_DNS_TIMEOUT", "3"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "mailsetup",
    "domains",
    "credentials",
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
    "django_htmx.middleware.HtmxMiddleware",
    "mailsetup.middleware.SecurityHeadersMiddleware",
    # Axes last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mailsetup.urls"
WSGI_APPLICATION = "mailsetup.wsgi.application"
AUTH_USER_MODEL = "mailsetup.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "mailsetup.context_processors.teams",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file for the test database too, so that a real worker process and a live server see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "mailsetup.cache.ReusingRedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Rendered pages (mailsetup/page_cache.py), in each process's memory: their keys are read from the database on
    # every request, so a per-process copy is never stale, and reading it costs no round trip.
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "OPTIONS": {"MAX_ENTRIES": envint("MAILSETUP_PAGE_CACHE_ENTRIES", "500")},
    },
}
# Sessions are read on every page: from the cache when there is a shared one (Redis), written through to the
# database. A per-process cache (the default) can't hold them: a logout in one process would not reach the others.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if CACHE_URL else "django.contrib.sessions.backends.db"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "mailsetup.backends.ModelBackendWithMemberships",
    # Only for sessions signed in before it was replaced above: Django keeps a session's user with the backend
    # that logged it in. (A failed login also tries it: one more password hash.)
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Login rate limit (django-axes): per account and, separately, per client address.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
# Behind reverse proxies (a TLS terminator, a load balancer), the number of them that append to X-Forwarded-For;
# without it every visitor would share the proxy's address and one attacker could lock everyone out.
MAILSETUP_PROXY_COUNT = envint("MAILSETUP_PROXY_COUNT", "0")
# How long a rendered domain list, domain page or credential list may be kept (mailsetup/page_cache.py); 0: never.
# Each is keyed on versions read from the database on every request, so this bounds memory, not staleness.
MAILSETUP_PAGE_CACHE_SECONDS = envint("MAILSETUP_PAGE_CACHE_SECONDS", "300")
AXES_CLIENT_IP_CALLABLE = "mailsetup.client_ip.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: console in development; EMAIL_HOST and friends (or EMAIL_URL smtp://user:pass@host:port) in production.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "mailsetup <noreply@mailsetup.test>")
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_URL = env("EMAIL_URL", "")
if EMAIL_URL:
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 587
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme in ("smtp+tls", "submission")
    EMAIL_USE_SSL = _email.scheme == "smtps"
else:
    EMAIL_HOST = env("EMAIL_HOST", "localhost")
    EMAIL_PORT = envint("EMAIL_PORT", "25")
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")

# Celery: a broker on the filesystem by default (no server needed); Redis in production.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-queue"
    for _sub in ("out", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        # Broadcast (remote control) exchanges; without this kombu writes ./control in the working directory.
        "control_folder": str(_queue_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "enqueue-due-domain-checks": {"task": "domains.tasks.enqueue_due_checks", "schedule": 10.0},
    "prune-invitations": {"task": "mailsetup.tasks.prune_invitations", "schedule": 24 * 60 * 60.0},
}

# Production hardening (DEBUG off): HTTPS only, secure cookies, HSTS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# The platform's SMTP ports, in this order: submission with STARTTLS, implicit TLS, alternative STARTTLS (for
# networks that block 587), server-to-server on 25 with STARTTLS. Snippets are filled in from these.
_smtp_ports = envlist("MAILSETUP_SMTP_PORTS", "587,465,2525,25")
if len(_smtp_ports) != 4 or not all(p.isdigit() and 0 < int(p) < 65536 for p in _smtp_ports):
    raise ImproperlyConfigured(
        f"MAILSETUP_SMTP_PORTS must be four port numbers (STARTTLS, implicit TLS, alternative, 25), not {_smtp_ports!r}"
    )
MAILSETUP_SMTP_PORTS = dict(zip(("starttls", "tls", "alt", "mx"), (int(p) for p in _smtp_ports), strict=True))

# Background DNS verification (domains/verification.py). Back-off between checks while a domain is pending or
# degraded, in seconds (the last step repeats); the interval of re-checks once verified; when a domain that never
# succeeds is marked failed; how long a claimed check may run before the domain is due again (a killed worker);
# how often "Check now" may run per domain; how often beat looks for due domains.
try:
    MAILSETUP_CHECK_BACKOFF = [int(step) for step in envlist("MAILSETUP_CHECK_BACKOFF", "60,120,300,600,1800,3600")]
except ValueError:
    MAILSETUP_CHECK_BACKOFF = []
if not MAILSETUP_CHECK_BACKOFF or min(MAILSETUP_CHECK_BACKOFF) <= 0:
    raise ImproperlyConfigured("MAILSETUP_CHECK_BACKOFF must be a comma-separated list of positive seconds.")
MAILSETUP_CHECK_VERIFIED_INTERVAL = envint("MAILSETUP_CHECK_VERIFIED_INTERVAL", "86400")
MAILSETUP_CHECK_GIVE_UP_AFTER = envint("MAILSETUP_CHECK_GIVE_UP_AFTER", str(72 * 3600))
MAILSETUP_CHECK_LEASE = envint("MAILSETUP_CHECK_LEASE", "300")
MAILSETUP_CHECK_NOW_INTERVAL = envint("MAILSETUP_CHECK_NOW_INTERVAL", "10")
CELERY_BEAT_SCHEDULE["enqueue-due-domain-checks"]["schedule"] = float(envint("MAILSETUP_CHECK_ENQUEUE_INTERVAL", "10"))

# DKIM key rotation (domains.services.dkim_rotation_start): how long, in seconds, a replaced key stays published
# (and expected) after signing moved to the new one, so that mail signed before the switch still verifies.
MAILSETUP_DKIM_RETIRE_AFTER = envint("MAILSETUP_DKIM_RETIRE_AFTER", str(7 * 24 * 3600))
if MAILSETUP_DKIM_RETIRE_AFTER < 0:
    raise ImproperlyConfigured("MAILSETUP_DKIM_RETIRE_AFTER must be zero or more seconds.")
