"""The restore link /r/<token>: a click is recorded on its attempt and the customer goes to
the storefront's cart; a bad or old link, or a cart already ordered, gets a friendly page."""

import threading
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import event

from config import TestConfig
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.orders.service import convert_to_order
from dashboard.recovery.models import Suppression
from dashboard.recovery.tokens import restore_token, unsubscribe_token
from tests.factories import hours


def token_for(app, cart_id, step):
    with app.app_context():
        return restore_token(cart_id, step)


def assert_friendly_page(response, heading="This link no longer works"):
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert heading in response.text
    text = response.text.lower()
    assert "error" not in text and "traceback" not in text


def test_a_click_is_recorded_on_its_step_and_redirects_to_the_cart(
    app, client, shop, quiet_cart, smtp_server
):
    cart_id, quiet = quiet_cart(cart_id="cart-abc")
    shop.run(quiet + hours(1))
    shop.deliver(quiet + hours(1))
    shop.run(quiet + hours(24))
    shop.deliver(quiet + hours(24))
    text = smtp_server.messages[1].get_body(("plain",)).get_content()  # step 2's email
    path = text[text.index("/r/") :].split()[0]

    response = client.get(path)
    assert response.status_code == 303
    assert response.location == "http://localhost:8000/cart/restore?cart=cart-abc"
    first, second = shop.steps(cart_id)
    assert first.clicked_at is None and second.clicked_at is not None

    assert client.get(path).status_code == 303  # a second click keeps the first time
    assert shop.steps(cart_id)[1].clicked_at == second.clicked_at


def test_the_cart_id_is_quoted_into_the_restore_url(app, client, shop, quiet_cart):
    cart_id, quiet = quiet_cart(cart_id="a&b c/d")
    shop.run(quiet + hours(1))
    response = client.get(f"/r/{token_for(app, cart_id, 1)}")
    assert response.location == "http://localhost:8000/cart/restore?cart=a%26b%20c%2Fd"


def test_tampered_or_garbage_tokens_get_a_friendly_page(app, client, shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    shop.run(quiet + hours(1))
    good = token_for(app, cart_id, 1)
    _payload, stamp, signature = good.split(".")
    other = token_for(app, cart_id + 1, 1).split(".")[0]
    for token in (
        "garbage",
        good[:-3] + ("xyz" if not good.endswith("xyz") else "abc"),  # signature changed
        f"{other}.{stamp}.{signature}",  # another cart's payload, this signature
        good.replace(".", "", 1),
    ):
        assert_friendly_page(client.get(f"/r/{token}"))
    assert shop.steps(cart_id)[0].clicked_at is None


def test_an_expired_token_gets_a_friendly_page(app, client, shop, quiet_cart, monkeypatch):
    cart_id, quiet = quiet_cart()
    shop.run(quiet + hours(1))

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 31 * 86400  # RESTORE_LINK_DAYS is 30

    old = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="reclaim-restore", signer=SignedLongAgo
    ).dumps({"o": cart_id, "s": 1})
    assert_friendly_page(client.get(f"/r/{old}"))

    # The same token is good while the links live long enough.
    monkeypatch.setitem(app.config, "RESTORE_LINK_DAYS", 32)
    assert client.get(f"/r/{old}").status_code == 303
    assert shop.steps(cart_id)[0].clicked_at is not None


def test_a_link_for_a_deleted_cart_gets_a_friendly_page(app, client, shop, quiet_cart):
    token = token_for(app, 123456, 1)
    assert_friendly_page(client.get(f"/r/{token}"))


def test_a_converted_cart_shows_already_ordered(app, client, shop, quiet_cart):
    cart_id, quiet = quiet_cart()
    shop.run(quiet + hours(1))
    with app.app_context():
        convert_to_order(db.session.get(IncompleteOrder, cart_id), Actor.system("test"))
        db.session.commit()
    assert_friendly_page(
        client.get(f"/r/{token_for(app, cart_id, 1)}"), "You already ordered these items"
    )


@pytest.mark.skipif(
    not TestConfig.SQLALCHEMY_DATABASE_URI.startswith("sqlite"),
    reason="SQLite only: PostgreSQL has no database-wide write lock",
)
def test_a_click_while_someone_else_writes_still_redirects(app, client, shop, quiet_cart):
    """SQLite: a transaction that began as a reader cannot write once another connection
    has committed ("database is locked" at once, whatever the busy timeout), so the click
    must begin its transaction as a writer."""
    cart_id, quiet = quiet_cart()
    other_cart, _ = quiet_cart()
    shop.run(quiet + hours(2))
    token = token_for(app, cart_id, 1)
    writers = []

    def someone_else_writes():
        shop.update_cart(other_cart, name="Changed meanwhile")

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE recovery_attempts") and not writers:
            # Between the click's first read and its write, another connection commits.
            writer = threading.Thread(target=someone_else_writes)
            writers.append(writer)
            writer.start()
            writer.join(timeout=1)  # a writer that waits for us is fine too

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        response = client.get(f"/r/{token}")
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
        for writer in writers:
            writer.join(timeout=15)
    assert writers, "the click wrote nothing"
    assert response.status_code == 303
    assert shop.steps(cart_id)[0].clicked_at is not None
    assert shop.cart(other_cart).name == "Changed meanwhile"


def test_an_unsubscribed_address_sees_so_and_can_ask_for_reminders_again(app, client):
    with app.app_context():
        token = unsubscribe_token("ada@example.com")
    client.post(f"/u/{token}")
    page = client.get(f"/u/{token}").text
    assert "You are already unsubscribed" in page
    assert f'action="/u/{token}/resubscribe"' in page
    assert "Reclaim Demo Shop</title>" in page  # the shop's name, not the tool's

    back = client.post(f"/u/{token}/resubscribe").text
    assert "Cart reminders are back on" in back
    with app.app_context():
        assert db.session.get(Suppression, "ada@example.com") is None
    assert "Stop cart reminders?" in client.get(f"/u/{token}").text
