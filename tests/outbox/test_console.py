"""The console mail backend (development): one line per email saying who it was for, its
subject, and where staff read it in the outbox; never the body."""

from dashboard.extensions import db
from dashboard.outbox.delivery import deliver_due
from dashboard.outbox.models import OutboxMessage
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row


def test_each_email_is_one_line_with_its_outbox_link_on_the_public_address(
    app, capsys, monkeypatch
):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "http://127.0.0.1:5123")
    with app.app_context():
        insert_ignoring_duplicates(
            [
                outbox_row(
                    "order_confirmation",
                    f"test:{to}",
                    to,
                    "Your cart\nis waiting",
                    "The long text body",
                    "<p>The long HTML body</p>",
                )
                for to in ("a@example.com", "b@example.com")
            ]
        )
        db.session.commit()
        ids = {m.to_email: m.id for m in db.session.query(OutboxMessage)}

        assert deliver_due()["printed"] == 2

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Email printed, not sent: to {to}, 'Your cart\\nis waiting', "
        f"read it at http://127.0.0.1:5123/outbox/{ids[to]}"
        for to in ("a@example.com", "b@example.com")
    ]
