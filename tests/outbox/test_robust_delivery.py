"""Nothing one message holds can stop a delivery batch: an email whose renderer raises, or
that cannot be built, fails alone; the rest of the batch goes out."""

from datetime import datetime

from dashboard.extensions import db
from dashboard.formatting import shop_time
from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row


def _queue(app, *rows):
    with app.app_context():
        insert_ignoring_duplicates([outbox_row(*row) for row in rows])
        db.session.commit()


def test_a_renderer_that_raises_fails_its_messages_and_the_batch_goes_on(app, shop, smtp_server):
    def broken(messages):
        raise OverflowError("date value out of range")

    app.extensions["outbox_renderers"]["broken"] = broken
    try:
        _queue(
            app,
            ("broken", "broken:1", "a@example.com"),
            (
                "order_confirmation",
                "order_confirmation:99",
                "b@example.com",
                "Hi",
                "Text",
                "<p>Hi</p>",
            ),
        )
        counts = shop.deliver()
    finally:
        del app.extensions["outbox_renderers"]["broken"]
    assert (counts["sent"], counts["failed"]) == (1, 1)
    statuses = {m.dedupe_key: (m.status, m.last_error) for m in shop.outbox()}
    assert statuses["order_confirmation:99"] == ("sent", None)
    status, error = statuses["broken:1"]
    assert status == "failed" and "OverflowError: date value out of range" in error
    assert [m["To"] for m in smtp_server.messages] == ["b@example.com"]
    assert shop.deliver()["sent"] == 0  # nothing left stuck in "sending"


def test_a_time_past_what_the_shop_zone_can_show_is_shown_in_utc(app):
    with app.app_context():
        assert shop_time(datetime(9999, 12, 31, 23, 59)) == "9999-12-31 23:59 UTC"
