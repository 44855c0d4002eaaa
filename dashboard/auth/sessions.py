"""The staff's cookie sessions: which staff member a session or remember cookie belongs
to, if it still does; and no session at all for the storefront's API."""

import re

from flask.sessions import SecureCookieSessionInterface

from dashboard.api import is_api_request
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.listing import MAX_ID

_IDENTIFIER = re.compile(r"([0-9]{1,10}):([0-9]{1,10})")


def load_staff(identifier):
    """The active staff member a session's "<id>:<session version>" names, or None: a
    cookie from before a sign-out, a deactivation or a new password names an old version."""
    match = _IDENTIFIER.fullmatch(str(identifier or ""))
    if match is None:
        return None  # also every cookie from before session versions
    staff_id, version = (int(part) for part in match.groups())
    if not 0 < staff_id <= MAX_ID:
        return None
    staff = db.session.get(Staff, staff_id)
    if staff is None or not staff.is_active or staff.session_version != version:
        return None
    return staff


class StaffSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, for staff pages only. The storefront's API
    authenticates every request by key: it reads no session cookie and never sets one, and
    skips the work of a session it would not use."""

    def open_session(self, app, request):
        if is_api_request(request):
            return self.make_null_session(app)
        return super().open_session(app, request)
