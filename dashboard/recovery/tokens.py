"""Signed links in recovery emails: restore a cart, unsubscribe an address."""

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


def public_url(endpoint, **values):
    """An absolute link for a customer's email: on PUBLIC_BASE_URL, whatever host staff use,
    and buildable in a background job with no request."""
    path = current_app.url_map.bind("reclaim.invalid").build(endpoint, values)
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def _serializer(purpose):
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"reclaim-{purpose}")


def restore_token(incomplete_order_id, step):
    return _serializer("restore").dumps({"o": incomplete_order_id, "s": step})


def read_restore_token(token):
    """(incomplete order id, step), or None for a bad, tampered or expired token."""
    max_age = current_app.config["RESTORE_LINK_DAYS"] * 86400
    try:
        data = _serializer("restore").loads(token, max_age=max_age)
        return int(data["o"]), int(data["s"])
    except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
        return None


def unsubscribe_token(email):
    return _serializer("unsubscribe").dumps({"e": email})


def read_unsubscribe_token(token):
    """The email address, or None. Unsubscribe links do not expire."""
    try:
        return str(_serializer("unsubscribe").loads(token)["e"])
    except (BadSignature, KeyError, TypeError):
        return None
