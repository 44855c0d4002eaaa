"""Gunicorn settings, read automatically when gunicorn starts in the project root."""

import gc

bind = "127.0.0.1:8000"
workers = 2
timeout = 60


def post_worker_init(worker):
    # Everything loaded at start-up (Flask, SQLAlchemy, templates) lives for the whole
    # process: freezing it keeps full garbage collections short (tens of ms otherwise).
    gc.freeze()
