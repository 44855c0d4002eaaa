"""Settings: read when the app is created, checked on the values it will use, and a server
that would run unsafely refuses to start with one line saying what to set.

The "refuses to start" cases run the real entry points (`flask`, gunicorn, wsgi.py) in a
fresh interpreter, in a copy of the project without any `.env`, with none of Reclaim's
variables inherited from the shell that runs the tests.
"""

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from config import (
    DEV_SECRET_KEY,
    DevelopmentConfig,
    ProductionConfig,
    Settings,
    SettingsError,
    TestConfig,
)
from dashboard import create_app
from dashboard.audit.service import Actor
from dashboard.auth.models import Staff
from dashboard.auth.service import create_staff
from dashboard.extensions import db
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REAL_KEY = "9f" * 32
SHOW = (
    "from dashboard import create_app; c = create_app().config; "
    "print(c['DEBUG'], c['SESSION_COOKIE_SECURE'], c['MAIL_BACKEND'], c['SECRET_KEY'])"
)
# The project files an app needs to start, copied without instance/ or .env.
PROJECT_FILES = ("config.py", "wsgi.py", "gunicorn.conf.py", "dashboard", "templates", "static")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    copy = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    return copy


def _environment(tmp_path, **settings):
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in Settings.model_fields and not name.startswith("FLASK_")
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'reclaim.sqlite3'}"
    env.update(settings)
    return env


def _run(project, tmp_path, command, **settings):
    return subprocess.run(
        command,
        cwd=project,
        env=_environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _python(project, tmp_path, code, **settings):
    return _run(project, tmp_path, [sys.executable, "-c", code], **settings)


def _refusal(finished):
    """The one line a refused start printed (and no traceback)."""
    assert finished.returncode == 3, finished.stdout + finished.stderr
    assert "Traceback" not in finished.stderr
    lines = [line for line in finished.stderr.splitlines() if line.startswith("Reclaim")]
    assert len(lines) == 1, finished.stderr
    return lines[0]


# ------------------------------------------------------------------ refusing to start


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-c", "import wsgi"], id="wsgi.py"),
        pytest.param([str(BIN / "flask"), "--app", "wsgi", "routes"], id="flask command"),
        pytest.param([str(BIN / "flask"), "run", "--port", "0"], id="flask run"),
        pytest.param(
            [str(BIN / "gunicorn"), "wsgi:app", "--bind", "127.0.0.1:0", "--workers", "2"],
            id="gunicorn",
        ),
    ],
)
def test_without_reclaim_env_development_the_development_key_is_refused(project, tmp_path, command):
    refused = _run(project, tmp_path, command)

    line = _refusal(refused)
    assert "SECRET_KEY must be set" in line
    assert "RECLAIM_ENV=development" in line  # the way out on a developer's machine


@pytest.mark.parametrize("secret", [None, "short", DEV_SECRET_KEY, "x" * 31])
def test_production_refuses_to_start_without_a_real_secret_key(project, tmp_path, secret):
    settings = {"RECLAIM_ENV": "production"}
    if secret is not None:
        settings["SECRET_KEY"] = secret
    refused = _python(project, tmp_path, "import wsgi", **settings)
    assert "SECRET_KEY must be set" in _refusal(refused)
    if secret:
        assert secret not in refused.stderr  # a key is never echoed, not even a bad one


def test_production_refuses_the_console_mail_backend(project, tmp_path):
    refused = _python(
        project,
        tmp_path,
        "import wsgi",
        RECLAIM_ENV="production",
        SECRET_KEY=REAL_KEY,
        MAIL_BACKEND="console",
    )
    assert "MAIL_BACKEND=console" in _refusal(refused)


WRONG_SETTINGS = [
    ("RECOVERY_DELAYS", "abc", "each a number with m, h or d"),
    ("SHOP_TIMEZONE", "Mars/Base", "is not a time zone"),
    ("MAIL_PORT", "twenty-five", "must be a whole number"),
    ("SCHEDULER_ENABLED", "maybe", "must be true or false"),
    ("SHOP_CURRENCY", "EURO", "currency code"),
    ("RETURN_WINDOW_FROM", "shipping", "'delivery' or 'order'"),
    ("PUBLIC_BASE_URL", "127.0.0.1:5000", "http://"),
    ("DATABASE_URL", "not a url", "database URL"),
]


def test_a_wrong_setting_is_one_line_naming_it_and_what_is_wrong(project, tmp_path):
    refused = _python(
        project, tmp_path, "import wsgi", RECLAIM_ENV="development", RECOVERY_DELAYS="abc"
    )
    assert _refusal(refused) == (
        "Reclaim cannot start: RECOVERY_DELAYS=abc: must be delays separated by commas, "
        "each a number with m, h or d (minutes, hours, days; hours if none), like 30m,24h,3d"
    )


def test_every_wrong_setting_gets_its_line(project, tmp_path):
    settings = {name: value for name, value, _says in WRONG_SETTINGS}
    settings.update(RECLAIM_ENV="staging", RECOVERY_MAX_ATTEMPTS="0")
    refused = _python(project, tmp_path, "import wsgi", **settings)

    assert refused.returncode == 3 and "Traceback" not in refused.stderr, refused.stderr
    lines = {line.split(":")[1].strip().split("=")[0]: line for line in refused.stderr.splitlines()}
    for name, _value, says in WRONG_SETTINGS:
        assert says in lines[name]
    assert "'development' or 'production'" in lines["RECLAIM_ENV"]
    assert "at least 1" in lines["RECOVERY_MAX_ATTEMPTS"]
    assert "not a url" not in refused.stderr  # a database URL may hold a password


def test_recovery_delays_must_grow(project, tmp_path):
    line = _refusal(
        _python(
            project,
            tmp_path,
            "import wsgi",
            RECLAIM_ENV="development",
            RECOVERY_DELAYS="24h,1h",
        )
    )
    assert "RECOVERY_DELAYS=24h,1h" in line and "longer than the one before" in line


# ------------------------------------------------------------------- what each runs with


def test_production_starts_with_a_real_secret_key_secure_cookies_and_smtp(project, tmp_path):
    started = _python(project, tmp_path, SHOW, RECLAIM_ENV="production", SECRET_KEY=REAL_KEY)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["False", "True", "smtp", REAL_KEY]


def test_without_reclaim_env_a_real_secret_key_runs_as_production(project, tmp_path):
    started = _python(project, tmp_path, SHOW, SECRET_KEY=REAL_KEY)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["False", "True", "smtp", REAL_KEY]


def test_development_runs_with_debug_the_development_key_and_console_mail(project, tmp_path):
    started = _python(project, tmp_path, SHOW, RECLAIM_ENV="development")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["True", "False", "console", DEV_SECRET_KEY]


def test_settings_come_from_a_dot_env_file_and_the_environment_wins(project, tmp_path):
    (project / ".env").write_text("RECLAIM_ENV=development\nSHOP_NAME=From the file\n")
    try:
        code = "import wsgi; print(wsgi.app.config['SHOP_NAME'], wsgi.app.config['SHOP_TIMEZONE'])"
        from_file = _python(project, tmp_path, code, SHOP_TIMEZONE="Asia/Tokyo")
        overridden = _python(project, tmp_path, code, SHOP_NAME="Shell")
    finally:
        (project / ".env").unlink()
    assert from_file.stdout.split("\n")[0] == "From the file Asia/Tokyo", from_file.stderr
    assert overridden.stdout.split()[0] == "Shell", overridden.stderr


def test_importing_writes_nothing_and_the_default_database_is_in_the_instance_folder(
    project, tmp_path
):
    instance = project / "instance"
    imported = _python(project, tmp_path, "import config, dashboard")
    assert imported.returncode == 0, imported.stderr
    assert not instance.exists()

    env = _environment(tmp_path, RECLAIM_ENV="development")
    del env["DATABASE_URL"]
    created = subprocess.run(
        [sys.executable, "-c", "import wsgi; print(wsgi.app.config['SQLALCHEMY_DATABASE_URI'])"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip() == f"sqlite:///{instance / 'reclaim.sqlite3'}"
        assert instance.is_dir()  # made by the app that uses it, for SQLite to create the file
    finally:
        shutil.rmtree(instance, ignore_errors=True)


# ------------------------------------------------------------- read when the app is made


def test_settings_are_read_when_the_app_is_created_not_at_import(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SHOP_NAME", "Set after config.py was imported")
    monkeypatch.setenv("RECOVERY_DELAYS", "30m,2,3d")
    app = create_app(DevelopmentConfig)
    assert app.config["SHOP_NAME"] == "Set after config.py was imported"
    assert app.config["RECOVERY_DELAYS"] == [
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(days=3),
    ]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("30s", "each a number with m, h or d"),
        ("0.5m", "at least 1 minute"),
        ("1h,1h", "longer than the one before"),
        ("", None),  # empty: the default
    ],
)
def test_recovery_delays_take_units_and_at_least_a_minute(monkeypatch, given, says):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("RECOVERY_DELAYS", given)
    if says is None:
        app = create_app(DevelopmentConfig)
        assert app.config["RECOVERY_DELAYS"] == [timedelta(hours=h) for h in (1, 24, 72)]
        return
    with pytest.raises(SettingsError, match=says):
        create_app(DevelopmentConfig)


def test_the_older_delays_name_in_hours_is_still_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("RECOVERY_DELAYS_HOURS", "2,30")
    app = create_app(DevelopmentConfig)
    assert app.config["RECOVERY_DELAYS"] == [timedelta(hours=2), timedelta(hours=30)]
    assert "RECOVERY_DELAYS_HOURS" not in app.config


def test_the_check_is_on_the_value_the_app_uses(monkeypatch, tmp_path):
    """A real key in the environment but the development key given to the app: refused."""

    class DevelopmentKey(ProductionConfig):
        SECRET_KEY = DEV_SECRET_KEY

    monkeypatch.setenv("SECRET_KEY", REAL_KEY)
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        create_app(DevelopmentKey)


def test_the_restore_url_follows_the_storefront(monkeypatch):
    monkeypatch.setenv("STOREFRONT_URL", "https://shop.example/")
    values = DevelopmentConfig.load("/nowhere")
    assert values["RECOVERY_RESTORE_URL"] == "https://shop.example/cart/restore?cart={cart_id}"


def test_the_tests_settings_ignore_the_environment(monkeypatch):
    monkeypatch.setenv("SHOP_NAME", "A developer's shop")
    monkeypatch.setenv("MAIL_BACKEND", "smtp")
    values = TestConfig.load("/nowhere")
    assert values["SHOP_NAME"] == Settings.model_fields["SHOP_NAME"].default
    assert values["MAIL_BACKEND"] == "console"


# ----------------------------------------------------------------------- password hashes


def test_passwords_are_hashed_with_scrypt_unless_set_otherwise(monkeypatch):
    monkeypatch.delenv("PASSWORD_HASH_METHOD", raising=False)
    assert DevelopmentConfig.load("/nowhere")["PASSWORD_HASH_METHOD"] == "scrypt"


def test_the_tests_hash_passwords_cheaply_with_the_setting(app):
    assert app.config["PASSWORD_HASH_METHOD"] == "pbkdf2:sha256:1"
    with app.app_context():
        staff = create_staff("cheap@example.com", "agent", PASSWORD, Actor.system("test"))
        db.session.commit()
        stored = db.session.get(Staff, staff.id).password_hash
    assert stored.startswith("pbkdf2:sha256:1$")
    assert check_password_hash(stored, PASSWORD)


def test_production_refuses_a_cheap_password_hash(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", REAL_KEY)
    monkeypatch.setenv("PASSWORD_HASH_METHOD", "pbkdf2:sha256:1")
    with pytest.raises(SettingsError, match="PASSWORD_HASH_METHOD=pbkdf2:sha256:1 is too cheap"):
        ProductionConfig.load("/nowhere")


# ----------------------------------------------------------------------------- .env.example


def _as_written_in_env(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(_as_written_in_env(item) for item in value)
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 3600:g}h"
    return "" if value is None else str(value)


def test_env_example_lists_every_setting_with_its_default():
    listed = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, equals, value = line.removeprefix("# ").partition("=")
        if equals and name.isupper() and " " not in name:
            listed[name] = value
    defaults = {
        name: _as_written_in_env(field.default) for name, field in Settings.model_fields.items()
    }
    defaults["SECRET_KEY"] = ""  # the development key is not advertised
    assert listed == defaults


def test_postgresql_connections_are_pinged_before_use_and_sqlite_ones_are_not():
    class OnSQLite(TestConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    class OnPostgres(TestConfig):
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

    # A restarted PostgreSQL server drops pooled connections; a SQLite file cannot.
    for config, pinged in ((OnPostgres, True), (OnSQLite, False)):
        app = create_app(config)  # no connection is made yet
        with app.app_context():
            assert db.engine.pool._pre_ping is pinged
            db.engine.dispose()
