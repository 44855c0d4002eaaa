"""What the returns domain plugs into the app besides its pages: the outbox's renderer for
the return emails a bulk move queues without content."""

from dashboard.outbox.service import register_renderer
from dashboard.returns import emails


def register(app):
    register_renderer(app, emails.KIND, emails.render_batch)
