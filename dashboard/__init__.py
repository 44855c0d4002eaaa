"""Reclaim: win back incomplete orders and handle return requests."""

import os

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import config_from_env, default_database_url
from dashboard import database, formatting, rate_limit, security_headers, static_files
from dashboard.api import is_api_request
from dashboard.api.errors import error_response
from dashboard.extensions import csrf, db, login_manager, mail, migrate
from dashboard.htmx import is_htmx, toast
from dashboard.jobs.scheduler import start_scheduler
from dashboard.listing import MAX_ID


def create_app(config=None):
    """The app, its settings from `config` (a class of config.py, or a test's subclass of
    one), by default the class RECLAIM_ENV names, read from the environment and `.env`.

    Raises config.SettingsError, one line per wrong setting.
    """
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    configure(app, config or config_from_env())
    # Record ids in URLs are 32-bit: a longer number is a 404, not a database overflow.
    app.url_map.converters["int"] = RecordIdConverter
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    register_extensions(app)
    register_domains(app)
    # Before the blueprints: a staff request is counted before any hook of theirs reads.
    rate_limit.register(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    security_headers.register(app)
    static_files.register(app)
    register_commands(app)
    formatting.register(app)
    start_scheduler(app)
    return app


def configure(app, config):
    app.config.from_mapping(config.load(app.instance_path))
    # The default SQLite file lives in the instance folder, made when an app first uses it.
    if app.config["SQLALCHEMY_DATABASE_URI"] == default_database_url(app.instance_path):
        os.makedirs(app.instance_path, exist_ok=True)
    # A SQLite connection is an open file, never dropped by a server: no ping before each use.
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.pop("pool_pre_ping", None)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


class RecordIdConverter(IntegerConverter):
    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def register_extensions(app):
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    with app.app_context():
        # Checkpoint in the background while serving; tests and CLI commands keep SQLite's own.
        database.configure_engine(
            db.engine, background_checkpoints=app.config["SQLITE_BACKGROUND_CHECKPOINTS"]
        )

    from dashboard import models  # noqa: F401  (every table known to Flask-Migrate)
    from dashboard.auth.sessions import StaffSessions, load_staff

    app.session_interface = StaffSessions()

    # Sessions and remember cookies both name "<id>:<session version>": a deactivated
    # account, or one signed out or given a new password since, is signed out at once.
    login_manager.user_loader(load_staff)

    @login_manager.unauthorized_handler
    def unauthorized():
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        flash(login_manager.login_message, login_manager.login_message_category)
        if is_htmx():
            # Never swap a login form into a table cell: send the browser there instead.
            return "", 401, {"HX-Redirect": login_url}
        return redirect(login_url)


def register_domains(app):
    """What each domain plugs in besides its pages: scheduled jobs, outbox renderers,
    signal receivers."""
    from dashboard.analytics import jobs as analytics_jobs
    from dashboard.incomplete_orders import jobs as incomplete_order_jobs
    from dashboard.outbox import jobs as outbox_jobs
    from dashboard.recovery import jobs as recovery_jobs
    from dashboard.returns import jobs as return_jobs

    for domain in (recovery_jobs, outbox_jobs, incomplete_order_jobs, analytics_jobs, return_jobs):
        domain.register(app)


def register_blueprints(app):
    from dashboard.analytics.views import bp as analytics_bp
    from dashboard.api.views import bp as api_bp
    from dashboard.api_keys.views import bp as api_keys_bp
    from dashboard.audit.views import bp as audit_bp
    from dashboard.auth.views import bp as auth_bp
    from dashboard.core.views import bp as core_bp
    from dashboard.incomplete_orders.views import bp as incomplete_orders_bp
    from dashboard.jobs.views import bp as jobs_bp
    from dashboard.orders.views import bp as orders_bp
    from dashboard.outbox.views import bp as outbox_bp
    from dashboard.recovery.views import bp as recovery_bp
    from dashboard.returns.views import bp as returns_bp
    from dashboard.staff.views import bp as staff_bp

    for blueprint in (
        auth_bp,
        core_bp,
        incomplete_orders_bp,
        orders_bp,
        returns_bp,
        analytics_bp,
        audit_bp,
        staff_bp,
        api_keys_bp,
        api_bp,
        outbox_bp,
        recovery_bp,
        jobs_bp,
    ):
        app.register_blueprint(blueprint)


def register_errorhandlers(app):
    messages = {
        400: "The request was not understood.",
        403: "Your role does not allow this. Ask a manager if you need it.",
        404: "There is nothing at this address.",
        405: "That action is not allowed here.",
        500: "Something went wrong on our side. It has been logged; please try again.",
    }

    def render_error(error):
        code = getattr(error, "code", 500) or 500
        message = messages.get(code, "Something went wrong.")
        if is_api_request(request):
            return error_response(code, message)
        if is_htmx():
            return toast(app.response_class("", status=code), message, "error")
        return render_template("error.html", code=code, message=message), code

    for code in messages:
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = "This page was open too long or its form is stale. Reload the page and try again."
        if is_htmx():
            return toast(app.response_class("", status=400), message, "error")
        return render_template("error.html", code=400, message=message), 400


def register_request_hooks(app):
    from dashboard.forms import refuse_nul_characters

    app.before_request(refuse_nul_characters)

    @app.before_request
    def mark_read_only_requests():
        # API requests always write (their key's request count).
        read_only = request.method in ("GET", "HEAD", "OPTIONS")
        database.write_intent.set(not read_only or is_api_request(request))


def register_commands(app):
    from dashboard.analytics.commands import update_analytics_command
    from dashboard.auth.commands import create_staff_command
    from dashboard.demo.commands import seed_demo_command
    from dashboard.incomplete_orders.commands import cleanup_command
    from dashboard.recovery.commands import send_recovery_emails_command

    app.cli.add_command(create_staff_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(send_recovery_emails_command)
    app.cli.add_command(cleanup_command)
    app.cli.add_command(update_analytics_command)
