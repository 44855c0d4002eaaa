"""Signed links in recovery emails: restore a cart, unsubscribe an address."""

import base64
import hmac
import secrets

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


def _keystream(nonce, length):
    # HMAC-SHA256 as a pseudo-random function in counter mode: the address is hidden from
    # anyone without SECRET_KEY; the serializer's signature keeps it from being altered.
    key = hmac.new(
        current_app.config["SECRET_KEY"].encode(), b"reclaim-unsubscribe-address", "sha256"
    ).digest()
    blocks = (
        hmac.new(key, nonce + counter.to_bytes(4, "big"), "sha256").digest()
        for counter in range(-(-length // 32))
    )
    return b"".join(blocks)[:length]


def unsubscribe_token(email):
    """A signed link token that names the address only encrypted: an email forwarded or a
    link logged does not give the customer's address away."""
    nonce = secrets.token_bytes(12)
    plain = email.encode()
    hidden = bytes(a ^ b for a, b in zip(plain, _keystream(nonce, len(plain)), strict=True))
    return _serializer("unsubscribe").dumps(
        {"x": base64.urlsafe_b64encode(nonce + hidden).decode()}
    )


def read_unsubscribe_token(token):
    """The email address, or None. Unsubscribe links do not expire; links from before the
    address was hidden ({"e": address}) still work."""
    try:
        data = _serializer("unsubscribe").loads(token)
        if "e" in data:
            return str(data["e"])
        raw = base64.urlsafe_b64decode(data["x"].encode())
        nonce, hidden = raw[:12], raw[12:]
        if len(nonce) < 12 or not hidden:
            return None
        plain = bytes(a ^ b for a, b in zip(hidden, _keystream(nonce, len(hidden)), strict=True))
        return plain.decode()
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None
