"""The recovery holdout: RECOVERY_HOLDOUT_PERCENT of recoverable carts get no recovery email,
so the analytics can compare how often they convert with the emailed ones.

A cart's group is a stable function of its email: the SHA-256 of the address (lower-cased,
stripped) read as a number, modulo 100, is its bucket; buckets below the percentage are
held out. The same customer is in the same group for every cart (an email to one cart
cannot reach a held-out one of theirs), any process on any machine puts them there
(Python's hash() differs per process), and raising the share from 10 to 20 keeps the first
tenth held out.

The group is stored on the cart when its email arrives (`recovery_holdout`), with the
setting then: NULL when the holdout was off (the cart is in no comparison), True held
out, False emailed. Changing the setting moves no cart already placed, so a comparison
never mixes a cart into the group it was not treated as.
"""

import hashlib

from flask import current_app

BUCKETS = 100


def holdout_bucket(email):
    """0..99 for an address, the same everywhere and always."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def holdout_group(email, percent=None):
    """True (held out), False (emailed) or None (no holdout, or no email) for a cart with
    this email, under RECOVERY_HOLDOUT_PERCENT (or `percent`)."""
    if percent is None:
        percent = current_app.config.get("RECOVERY_HOLDOUT_PERCENT", 0)
    if not email or not percent:
        return None
    return holdout_bucket(email) < percent


def assign_holdout(order, email):
    """Place a cart in its group when its email arrives or changes, before any recovery
    email went to it (one already emailed stays where it is: it was treated as emailed)."""
    if email != order.email and not order.recovery_attempts:
        order.recovery_holdout = holdout_group(email)
