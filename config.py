"""Settings for Reclaim: read from the environment and a `.env` file in the project root
when the app is created (never at import), and checked on the values the app will use.

`Settings` names every variable, its type and its default (`.env.example` lists them).
The classes below it say what each environment adds: `create_app()` picks one from
RECLAIM_ENV, tests pass their own. A class's upper-case attributes win over the
environment, so `class Config(TestConfig): SQLALCHEMY_DATABASE_URI = ...` is all a test
needs.
"""

import os
import re
import sys
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.numbers import is_currency
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

BASE_DIR = Path(__file__).resolve().parent

# Published in this file, so it protects nothing: only a development machine may use it.
DEV_SECRET_KEY = "dev-only-not-secret"
SECRET_KEY_MIN_LENGTH = 32
SQLITE_DEFAULT_NAME = "reclaim.sqlite3"
# Below this many rounds a leaked password table falls to a laptop (OWASP: 600,000).
PBKDF2_MIN_ITERATIONS = 600_000
# Settings whose value an error message must never repeat.
SECRETS = {"SECRET_KEY", "MAIL_PASSWORD", "DATABASE_URL"}

# Holding out more than half the carts costs more recovered revenue than a measurement needs.
HOLDOUT_MAX_PERCENT = 50

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


_DELAY = re.compile(r"(\d+(?:\.\d+)?)\s*([mhd]?)")
_DELAY_UNITS = {"m": "minutes", "h": "hours", "": "hours", "d": "days"}


def _delay(text):
    """A recovery delay: 30m, 24h, 3d, or a bare number of hours."""
    match = _DELAY.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            "must be delays separated by commas, each a number with m, h or d "
            "(minutes, hours, days; hours if none), like 30m,24h,3d"
        )
    amount, unit = match.groups()
    return timedelta(**{_DELAY_UNITS[unit]: float(amount)})


class SettingsError(RuntimeError):
    """Settings the app cannot run with. Its message is one line per wrong setting, each
    naming the variable and what to do, fit to print instead of a traceback."""


class Settings(BaseSettings):
    """Every environment variable Reclaim reads, with its type and its default."""

    model_config = SettingsConfigDict(
        env_file=BASE_DIR / ".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        env_ignore_empty=True,  # VAR= in .env means "the default", as an unset variable does
        extra="ignore",
    )

    RECLAIM_ENV: Literal["development", "production"] = "production"
    SECRET_KEY: str = DEV_SECRET_KEY
    # Empty: a SQLite file in the instance folder.
    DATABASE_URL: str = ""
    PROXY_FIX_HOPS: NonNegativeInt = 0
    PASSWORD_HASH_METHOD: str = "scrypt"

    SHOP_NAME: str = "Reclaim Demo Shop"
    SHOP_TIMEZONE: str = "Europe/Berlin"
    SHOP_CURRENCY: str = "EUR"
    SHOP_LOCALE: str = "en_GB"
    SHOP_CONTACT_EMAIL: str = "help@example.com"
    STOREFRONT_URL: str = "http://localhost:8000"
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"

    LOGIN_MAX_FAILURES_PER_ACCOUNT: PositiveInt = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS: PositiveInt = 20
    LOGIN_FAILURE_WINDOW_MINUTES: PositiveInt = 15

    # Each step's wait after the cart's last activity: 30m, 24h, 3d (a bare number is hours).
    RECOVERY_DELAYS: Annotated[list[timedelta], NoDecode] = [
        timedelta(hours=1),
        timedelta(hours=24),
        timedelta(hours=72),
    ]
    # The older name of RECOVERY_DELAYS, read when RECOVERY_DELAYS is not set.
    RECOVERY_DELAYS_HOURS: Annotated[list[timedelta] | None, NoDecode] = None
    # "Send the next step now" waits this long after the previous email, unless the agent
    # ticks "send anyway".
    RECOVERY_MANUAL_MIN_GAP_HOURS: NonNegativeInt = 12
    RECOVERY_MAX_ATTEMPTS: PositiveInt = 3
    RECOVERY_MIN_CART_VALUE: NonNegativeInt = 0
    # Empty: STOREFRONT_URL + /cart/restore?cart={cart_id}
    RECOVERY_RESTORE_URL: str = ""
    RECOVERY_STOP_AFTER_DAYS: PositiveInt = 7
    # Analytics: a conversion within this many days of the last recovery email is recovered.
    RECOVERY_ATTRIBUTION_DAYS: PositiveInt = 5
    # This share of recoverable carts (chosen by their email) gets no recovery email, so
    # /analytics/ can compare how often they convert with the emailed ones. 0: none.
    RECOVERY_HOLDOUT_PERCENT: int = 0
    RESTORE_LINK_DAYS: PositiveInt = 30
    EXPIRE_AFTER_DAYS: PositiveInt = 30
    RETENTION_DAYS: PositiveInt = 180

    RETURN_WINDOW_DAYS: PositiveInt = 30
    RETURN_WINDOW_FROM: Literal["delivery", "order"] = "delivery"
    RETURN_SHIP_BY_DAYS: PositiveInt = 14
    RETURN_DECISION_SLA_HOURS: PositiveInt = 48
    RESTOCKING_FEE_PERCENT: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(0)
    RETURN_SHIPPING_FEE: Annotated[int | dict[str, int], NoDecode] = 0
    FINAL_SALE_SKUS: str = ""

    # Empty: console in development, smtp in production.
    MAIL_BACKEND: Literal["", "console", "smtp"] = ""
    MAIL_SERVER: str = "localhost"
    MAIL_PORT: Annotated[int, Field(ge=1, le=65535)] = 25
    MAIL_USE_TLS: bool = False
    MAIL_USE_SSL: bool = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER: str = "shop@example.com"
    MAIL_TIMEOUT_SECONDS: PositiveInt = 10
    OUTBOX_MAX_ATTEMPTS: PositiveInt = 8

    SCHEDULER_ENABLED: bool = False
    SCHEDULER_LEASE_SECONDS: Annotated[int, Field(ge=3)] = 30
    RECOVERY_RUN_MINUTES: PositiveInt = 5
    RECOVERY_RUN_SECONDS: NonNegativeInt = 0
    DELIVERY_RUN_SECONDS: PositiveInt = 60
    CLEANUP_HOUR: Annotated[int, Field(ge=0, le=23)] = 4
    SQLITE_BACKGROUND_CHECKPOINTS: bool = True

    API_MAX_BODY_BYTES: PositiveInt = 256 * 1024
    API_RATE_LIMIT_PER_MINUTE: PositiveInt = 3000

    # Signed-in staff: requests per staff member per clock minute (generous: a person
    # clicking fast makes a few a second), and CSV exports streaming at once.
    STAFF_RATE_LIMIT_PER_MINUTE: PositiveInt = 600
    EXPORT_CONCURRENCY_PER_STAFF: PositiveInt = 1
    EXPORT_CONCURRENCY_TOTAL: PositiveInt = 4

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value):
        if value:
            try:
                make_url(value)
            except ArgumentError:
                raise ValueError(
                    "is not a database URL; use sqlite:////path/to/file.sqlite3 or "
                    "postgresql+psycopg://user:password@host/database"
                ) from None
        return value

    @field_validator("EXPORT_CONCURRENCY_TOTAL")
    @classmethod
    def _export_concurrency_total(cls, value, info):
        per_staff = info.data.get("EXPORT_CONCURRENCY_PER_STAFF")
        if per_staff is not None and value < per_staff:
            raise ValueError(
                f"must be at least EXPORT_CONCURRENCY_PER_STAFF ({per_staff}): it counts "
                "everyone's exports together"
            )
        return value

    @field_validator("PASSWORD_HASH_METHOD")
    @classmethod
    def _password_hash_method(cls, value):
        if not re.fullmatch(r"scrypt(:\d+:\d+:\d+)?|pbkdf2(:sha(256|512)(:\d+)?)?", value):
            raise ValueError("must be scrypt, scrypt:N:R:P, pbkdf2 or pbkdf2:sha256:ITERATIONS")
        return value

    @field_validator("SHOP_TIMEZONE")
    @classmethod
    def _time_zone(cls, value):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone; use a name like Europe/Berlin") from None
        return value

    @field_validator("SHOP_CURRENCY")
    @classmethod
    def _currency(cls, value):
        value = value.strip().upper()
        if not is_currency(value):
            raise ValueError("is not an ISO 4217 currency code; use one like EUR, GBP or JPY")
        return value

    @field_validator("SHOP_LOCALE")
    @classmethod
    def _locale(cls, value):
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            raise ValueError("is not a locale; use one like en_GB, de_DE or fr_FR") from None
        return value

    @field_validator("STOREFRONT_URL", "PUBLIC_BASE_URL")
    @classmethod
    def _web_address(cls, value):
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
            raise ValueError("must be a web address starting with http:// or https://")
        return value.rstrip("/")

    @field_validator("RECOVERY_RESTORE_URL")
    @classmethod
    def _restore_url(cls, value):
        if value and "{cart_id}" not in value:
            raise ValueError("must contain {cart_id}, where the storefront's cart id goes")
        return value

    @field_validator("RECOVERY_DELAYS", "RECOVERY_DELAYS_HOURS", mode="before")
    @classmethod
    def _delays(cls, value):
        if value is None:
            return value
        if isinstance(value, str):
            value = [_delay(part) for part in value.split(",")]
        if (
            not value
            or any(not isinstance(delay, timedelta) for delay in value)
            or value[0] < timedelta(minutes=1)
            or any(b <= a for a, b in pairwise(value))
        ):
            raise ValueError(
                "each delay counts from the cart's last activity: at least 1 minute, "
                "and each longer than the one before (like 30m,24h,3d)"
            )
        return value

    @field_validator("RECOVERY_HOLDOUT_PERCENT")
    @classmethod
    def _holdout_percent(cls, value):
        if not 0 <= value <= HOLDOUT_MAX_PERCENT:
            raise ValueError(
                f"must be a whole percentage from 0 (no holdout) to {HOLDOUT_MAX_PERCENT}: "
                "the share of recoverable carts that get no recovery email"
            )
        return value

    @model_validator(mode="after")
    def _older_delays_name(self):
        if self.RECOVERY_DELAYS_HOURS and "RECOVERY_DELAYS" not in self.model_fields_set:
            self.RECOVERY_DELAYS = self.RECOVERY_DELAYS_HOURS
        return self

    @field_validator("RETURN_SHIPPING_FEE", mode="before")
    @classmethod
    def _shipping_fee(cls, value):
        if not isinstance(value, str):
            return value
        value = value.strip()
        if value.isdigit():
            return int(value)
        fees = {}
        for part in value.split(","):
            code, _, fee = part.partition(":")
            code, fee = code.strip().upper(), fee.strip()
            if not is_currency(code) or not fee.isdigit():
                raise ValueError(
                    "must be minor units in the shop's currency (495) "
                    "or per currency (EUR:495,JPY:800)"
                )
            fees[code] = int(fee)
        return fees

    def app_config(self, instance_path):
        """The app.config values these settings give: the variables under their own names
        (DATABASE_URL as SQLALCHEMY_DATABASE_URI), and what follows from them."""
        values = self.model_dump(exclude={"DATABASE_URL", "RECOVERY_DELAYS_HOURS"})
        values["SQLALCHEMY_DATABASE_URI"] = self.DATABASE_URL or default_database_url(instance_path)
        values["MAIL_BACKEND"] = self.MAIL_BACKEND or (
            "console" if self.RECLAIM_ENV == "development" else "smtp"
        )
        values["RECOVERY_RESTORE_URL"] = self.RECOVERY_RESTORE_URL or (
            self.STOREFRONT_URL + "/cart/restore?cart={cart_id}"
        )
        return values


class _GivenOnly(Settings):
    """The values given and the defaults, never the environment: a developer's `.env` or
    a variable left set in the shell does not change what the tests run with."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_other_sources):
        return (init_settings,)


class Config:
    """What every environment shares. Upper-case attributes are app.config values; those
    named like a setting win over the environment."""

    reads_environment = True

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
    PAGE_SIZE = 50
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024

    @classmethod
    def load(cls, instance_path):
        """app.config for an app whose instance folder is `instance_path`.

        Raises SettingsError, naming every setting that is wrong."""
        own = {name: getattr(cls, name) for name in dir(cls) if name.isupper()}
        given = {name: value for name, value in own.items() if name in Settings.model_fields}
        source = Settings if cls.reads_environment else _GivenOnly
        try:
            settings = source(**given)
        except ValidationError as error:
            raise SettingsError(_describe(error)) from None
        values = settings.app_config(instance_path)
        values.update({name: value for name, value in own.items() if name not in given})
        problems = cls.problems(values)
        if problems:
            raise SettingsError("\n".join(problems))
        return values

    @classmethod
    def problems(cls, values):
        """What makes these values unsafe to run with, one sentence each."""
        if values["SECRET_KEY"] == DEV_SECRET_KEY and values["RECLAIM_ENV"] != "development":
            return [_SECRET_KEY_NEEDED]
        return []


class DevelopmentConfig(Config):
    RECLAIM_ENV = "development"
    DEBUG = True


class ProductionConfig(Config):
    RECLAIM_ENV = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def problems(cls, values):
        problems = []
        secret = values["SECRET_KEY"]
        if len(secret) < SECRET_KEY_MIN_LENGTH or secret == DEV_SECRET_KEY:
            problems.append(_SECRET_KEY_NEEDED)
        if values["MAIL_BACKEND"] == "console":
            problems.append(
                "MAIL_BACKEND=console only prints emails and no customer gets them: "
                "use smtp (MAIL_SERVER, MAIL_PORT, ...) in production."
            )
        method = values["PASSWORD_HASH_METHOD"]
        pbkdf2 = re.fullmatch(r"pbkdf2:\w+:(\d+)", method)
        if pbkdf2 and int(pbkdf2[1]) < PBKDF2_MIN_ITERATIONS:
            problems.append(
                f"PASSWORD_HASH_METHOD={method} is too cheap for production: use scrypt "
                f"or pbkdf2 with at least {PBKDF2_MIN_ITERATIONS:,} iterations."
            )
        return problems


class TestConfig(Config):
    """The test suite's settings: the defaults (not the environment), an in-memory or
    TEST_DATABASE_URL database, and a password hash that takes microseconds, not 0.1 s."""

    reads_environment = False

    RECLAIM_ENV = "development"
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SERVER_NAME = None
    MAIL_BACKEND = "console"
    SCHEDULER_ENABLED = False
    SQLITE_BACKGROUND_CHECKPOINTS = False
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"
    API_MAX_BODY_BYTES = Settings.model_fields["API_MAX_BODY_BYTES"].default
    # The suite signs in as one staff member for thousands of requests, and reads an
    # export's headers without its body; the tests of the limits lower them for themselves.
    STAFF_RATE_LIMIT_PER_MINUTE = 1_000_000
    EXPORT_CONCURRENCY_PER_STAFF = 1_000
    EXPORT_CONCURRENCY_TOTAL = 1_000


_SECRET_KEY_NEEDED = (
    f"SECRET_KEY must be set to a random value of at least {SECRET_KEY_MIN_LENGTH} characters "
    "(python -c 'import secrets; print(secrets.token_hex(32))'); "
    "on a development machine, set RECLAIM_ENV=development to use the development key."
)

CONFIGS = {"development": DevelopmentConfig, "production": ProductionConfig}


def default_database_url(instance_path):
    return f"sqlite:///{Path(instance_path) / SQLITE_DEFAULT_NAME}"


def refuse_to_start(error):
    """Print what to fix, one line per wrong setting (not a traceback), and exit.

    Status 3 is gunicorn's "worker failed to boot": it stops the server instead of
    starting the same failing worker again and again.
    """
    for line in str(error).splitlines():
        print(f"Reclaim cannot start: {line}", file=sys.stderr)
    sys.exit(3)


def config_from_env():
    """The settings class RECLAIM_ENV names (in the environment or .env): production
    unless it says development."""
    try:
        return CONFIGS[Settings().RECLAIM_ENV]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


PLAIN_MESSAGES = {
    "int_parsing": "must be a whole number",
    "bool_parsing": "must be true or false",
    "decimal_parsing": "must be a number",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
}


def _describe(error):
    """One line per wrong setting: the variable, the value (unless secret), what to do."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "settings"
        plain = PLAIN_MESSAGES.get(problem["type"])
        if plain:
            message = plain.format(**problem.get("ctx", {}))
        else:
            message = problem["msg"].removeprefix("Value error, ")
            message = message.replace("Input should be", "must be")
        shown = "" if name in SECRETS else f"={problem['input']}"
        lines.append(f"{name}{shown}: {message}")
    return "\n".join(lines)
