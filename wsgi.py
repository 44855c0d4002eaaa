"""The app for a WSGI server (gunicorn wsgi:app) and for the `flask` command."""

from config import SettingsError, refuse_to_start
from dashboard import create_app

try:
    app = create_app()
except SettingsError as error:
    refuse_to_start(error)
