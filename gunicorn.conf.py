"""Gunicorn settings, read automatically when gunicorn starts in the project root."""

import gc

bind = "127.0.0.1:8000"
workers = 2
timeout = 60


def on_starting(server):
    # Wrong settings stop the server here, with one message, rather than in every worker.
    from config import BASE_DIR, SettingsError, config_from_env, refuse_to_start

    try:
        config_from_env().load(BASE_DIR / "instance")
    except SettingsError as error:
        refuse_to_start(error)


def post_worker_init(worker):
    # Everything loaded at start-up (Flask, SQLAlchemy, templates) lives for the whole
    # process: freezing it keeps full garbage collections short (tens of ms otherwise).
    gc.freeze()
