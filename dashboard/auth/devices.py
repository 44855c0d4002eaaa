"""OWASP's device cookies: a browser that signed in to an account before carries a signed
cookie naming that account and a random device id. Its failed sign-ins count against that
device alone, so guesses from elsewhere, which throttle the account, never lock its owner
out; an attacker cannot make such a cookie without the app's secret key."""

import secrets

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "reclaim_device"
MAX_AGE_SECONDS = 180 * 24 * 3600


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="sign-in-device")


def trusted_device(email):
    """This browser's device id for `email`, or None if it never signed in to it here."""
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > 500:
        return None
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("email") != email.strip().lower():
        return None
    device = data.get("device")
    return device if isinstance(device, str) and device else None


def remember_device(response, email):
    """Give this browser (a new id, or its old one) its own allowance for `email`."""
    device = trusted_device(email) or secrets.token_urlsafe(16)
    token = _serializer().dumps({"email": email.strip().lower(), "device": device})
    response.set_cookie(
        COOKIE,
        token,
        max_age=MAX_AGE_SECONDS,
        path="/login",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
    return response
