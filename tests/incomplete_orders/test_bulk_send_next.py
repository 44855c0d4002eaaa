"""Agents queue the next recovery email for many carts at once."""

from datetime import timedelta

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.timeutil import utcnow


def _keys(app):
    with app.app_context():
        return sorted(db.session.scalars(select(OutboxMessage.dedupe_key)).all())


def test_bulk_send_next_queues_one_step_per_cart_and_skips_carts_without_email(
    app, client, login, make_incomplete_order
):
    login("agent")
    recent = utcnow() - timedelta(minutes=5)  # not due yet: "now" ignores the delay
    due = [make_incomplete_order(snapshot_at=recent) for _ in range(3)]
    no_email = make_incomplete_order(snapshot_at=recent, email=None)
    form = {"action": "send_next", "ids": [*due, no_email]}

    # The confirm step counts what will be queued, not every cart ticked, and says why not.
    confirm = client.post("/incomplete-orders/bulk", data=form)
    assert "Send the next recovery email to 3 incomplete orders?" in confirm.text
    assert "1 of the 4 selected will stay as they are" in confirm.text
    assert "no email address" in confirm.text
    assert _keys(app) == []

    done = client.post("/incomplete-orders/bulk", data={**form, "confirm": "y"})
    assert done.status_code == 302
    assert _keys(app) == sorted(f"recovery:{order_id}:1" for order_id in due)
    assert (
        "Queued the next recovery email for 3 incomplete orders. "
        "1 left as they were: no email address."
    ) in client.get(done.headers["Location"]).text

    # A second click right after the first sends nothing more, and the confirm says why.
    again = client.post("/incomplete-orders/bulk", data=form)
    assert "None of the 4 selected will change." in again.text
    assert "the previous email has not gone out yet" in again.text
    client.post("/incomplete-orders/bulk", data={**form, "confirm": "y"})
    assert _keys(app) == sorted(f"recovery:{order_id}:1" for order_id in due)
    with app.app_context():
        assert len(db.session.scalars(select(RecoveryAttempt)).all()) == 3


def test_viewers_cannot_send_in_bulk(app, client, login, make_incomplete_order):
    login("viewer")
    order_id = make_incomplete_order()
    response = client.post(
        "/incomplete-orders/bulk", data={"action": "send_next", "ids": [order_id], "confirm": "y"}
    )
    assert response.status_code == 403
    assert _keys(app) == []
