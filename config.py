"""Settings for Reclaim, read from the environment (and a `.env` file in development)."""

import os
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def _env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _sqlite_default():
    instance = BASE_DIR / "instance"
    instance.mkdir(exist_ok=True)
    return f"sqlite:///{instance / 'reclaim.sqlite3'}"


DEV_SECRET_KEY = "dev-only-not-secret"


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_default()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # CSRF tokens live as long as the session: staff keep tabs open all day.
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # Number of proxies in front of the app that set X-Forwarded-For (0: none).
    PROXY_FIX_HOPS = _env_int("PROXY_FIX_HOPS", 0)

    SHOP_NAME = os.environ.get("SHOP_NAME", "Reclaim Demo Shop")
    SHOP_TIMEZONE = os.environ.get("SHOP_TIMEZONE", "Europe/Berlin")
    SHOP_CURRENCY = os.environ.get("SHOP_CURRENCY", "EUR")
    STOREFRONT_URL = os.environ.get("STOREFRONT_URL", "http://localhost:8000")

    # Failed sign-ins: at most this many per account / per client address per window.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = _env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    LOGIN_MAX_FAILURES_PER_ADDRESS = _env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
    LOGIN_FAILURE_WINDOW_MINUTES = _env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15)

    RECOVERY_DELAYS_HOURS = [
        int(h) for h in os.environ.get("RECOVERY_DELAYS_HOURS", "1,24,72").split(",")
    ]
    RECOVERY_MAX_ATTEMPTS = _env_int("RECOVERY_MAX_ATTEMPTS", 3)
    RECOVERY_MIN_CART_VALUE = _env_int("RECOVERY_MIN_CART_VALUE", 0)  # minor units
    # Where a restore link sends the customer; {cart_id} is replaced.
    RECOVERY_RESTORE_URL = os.environ.get(
        "RECOVERY_RESTORE_URL", STOREFRONT_URL.rstrip("/") + "/cart/restore?cart={cart_id}"
    )
    RESTORE_LINK_DAYS = _env_int("RESTORE_LINK_DAYS", 30)
    SHOP_CONTACT_EMAIL = os.environ.get("SHOP_CONTACT_EMAIL", "help@example.com")
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    EXPIRE_AFTER_DAYS = _env_int("EXPIRE_AFTER_DAYS", 30)
    RETENTION_DAYS = _env_int("RETENTION_DAYS", 180)
    RETURN_WINDOW_DAYS = _env_int("RETURN_WINDOW_DAYS", 30)

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "shop@example.com")
    MAIL_TIMEOUT_SECONDS = _env_int("MAIL_TIMEOUT_SECONDS", 10)
    # "console": print emails and keep them in the outbox (development); "smtp": deliver.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)

    SCHEDULER_ENABLED = _env_bool("SCHEDULER_ENABLED", False)
    SCHEDULER_LEASE_SECONDS = _env_int("SCHEDULER_LEASE_SECONDS", 30)
    RECOVERY_RUN_MINUTES = _env_int("RECOVERY_RUN_MINUTES", 5)
    # Finer control (tests, demos): when set, runs every this many seconds instead.
    RECOVERY_RUN_SECONDS = _env_int("RECOVERY_RUN_SECONDS", 0)
    DELIVERY_RUN_SECONDS = _env_int("DELIVERY_RUN_SECONDS", 60)
    CLEANUP_HOUR = _env_int("CLEANUP_HOUR", 4)  # in the shop's time zone
    SQLITE_BACKGROUND_CHECKPOINTS = _env_bool("SQLITE_BACKGROUND_CHECKPOINTS", True)
    PAGE_SIZE = 50
    API_MAX_BODY_BYTES = _env_int("API_MAX_BODY_BYTES", 256 * 1024)
    API_RATE_LIMIT_PER_MINUTE = _env_int("API_RATE_LIMIT_PER_MINUTE", 3000)
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024


class DevelopmentConfig(Config):
    DEBUG = True


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SERVER_NAME = None
    SCHEDULER_ENABLED = False
    SQLITE_BACKGROUND_CHECKPOINTS = False


class ProductionConfig(Config):
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def validate(cls):
        secret = os.environ.get("SECRET_KEY", "")
        if len(secret) < 32 or secret == DEV_SECRET_KEY:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_env():
    name = os.environ.get("RECLAIM_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"RECLAIM_ENV must be one of {', '.join(CONFIGS)}; got {name!r}.")
    return CONFIGS[name]
