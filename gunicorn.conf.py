"""Gunicorn settings, read automatically when gunicorn starts in the project root."""

import gc
import os
import sys

import gunicorn.http.wsgi

bind = "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not sync workers: a client that trickles its request body (or never finishes it)
# holds one thread while the worker's other threads go on serving, /healthz included. A
# buffering proxy in front (nginx, client_body_timeout) is still the way to shed many such
# clients at once.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60
# Each connection closes after its response. A kept-alive connection stays with the worker
# that accepted it: the storefront's, sending without pause, kept one worker's interpreter
# busy, and every staff page that worker served waited for it. Closed, each request goes to
# whichever worker takes it. bench/bench_load.py (PostgreSQL, 4 workers, 10 staff clients
# and the storefront): 3 routes of 11 over 3x their p95 alone in each of two runs with
# keepalive 5, none in two runs without (the worst 2.31x).
keepalive = 0
# Requests are small: long request lines or headers are refused before the app sees them.
limit_request_line = 8190
limit_request_fields = 100

# The Server header names no software or version.
gunicorn.http.wsgi.SERVER = "reclaim"


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
    # A thread back from the database or the network waits for the interpreter lock until
    # the thread holding it lets go, at most the switch interval: 5 ms by default, paid
    # after every query of a staff page that shares a worker with the storefront's busy
    # connection. With 4 workers, 10 staff clients and a storefront sending without pause
    # (bench/bench_load.py, PostgreSQL), 0.5 ms left 1 route of 11 over 3x its p95 alone in
    # each of two runs, against 3 and 4 with the default.
    sys.setswitchinterval(0.0005)
