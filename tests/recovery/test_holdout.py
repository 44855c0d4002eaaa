"""The recovery holdout: RECOVERY_HOLDOUT_PERCENT of carts, chosen by a stable hash of the
email, get no recovery email from the run, from a person's "send next step now" or from a
bulk send, and their ledger says so."""

import re
import subprocess
import sys
from html import unescape

import pytest

from config import DevelopmentConfig, SettingsError
from dashboard import create_app
from dashboard.audit.service import Actor
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder
from dashboard.incomplete_orders.service import apply_snapshot
from dashboard.recovery.holdout import holdout_bucket, holdout_group
from tests.factories import NOTHING, hours, snapshot

# Buckets (sha256 of the address, its first 8 bytes big-endian, mod 100), pinned: a change
# of the hash would move customers between groups and spoil every comparison running.
HELD = "dee@example.com"  # bucket 20
EMAILED = "ada@example.com"  # bucket 40


@pytest.fixture
def holdout(app, monkeypatch):
    monkeypatch.setitem(app.config, "RECOVERY_HOLDOUT_PERCENT", 25)


def carts_by_cart_id(shop):
    return {cart.cart_id: cart for cart in shop.rows(IncompleteOrder)}


def text(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# --- the hash ---------------------------------------------------------------------------


def test_the_bucket_is_a_stable_hash_of_the_normalised_email():
    assert holdout_bucket("dee@example.com") == 20
    assert holdout_bucket("ada@example.com") == 40
    assert holdout_bucket("jo@example.com") == 11
    assert holdout_bucket("  Dee@Example.COM ") == 20  # stripped and lower-cased
    # The same in processes with other string hash seeds (Python's hash() would differ).
    code = "from dashboard.recovery.holdout import holdout_bucket as b; print(b('ada@example.com'))"
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        )
        assert out.stdout.strip() == "40"


def test_a_bucket_below_the_percentage_is_held_out_and_a_larger_share_keeps_them():
    assert holdout_group(HELD, 25) is True and holdout_group(EMAILED, 25) is False
    assert holdout_group(HELD, 21) is True and holdout_group(HELD, 20) is False
    assert holdout_group(HELD, 50) is True and holdout_group(EMAILED, 50) is True
    assert holdout_group(HELD, 0) is None  # off: in no comparison
    assert holdout_group(None, 25) is None


@pytest.mark.parametrize("given", ["51", "-1", "ten"])
def test_a_percentage_outside_0_to_50_is_refused_in_one_line(monkeypatch, given):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("RECOVERY_HOLDOUT_PERCENT", given)
    with pytest.raises(SettingsError) as refused:
        create_app(DevelopmentConfig)
    (line,) = str(refused.value).splitlines()
    assert line.startswith(f"RECOVERY_HOLDOUT_PERCENT={given}: must be a whole ")
    if given != "ten":
        assert "percentage from 0 (no holdout) to 50" in line


# --- the group, stored when the email arrives ---------------------------------------------


def test_the_group_is_set_when_the_email_arrives_and_kept_after_the_setting_changes(
    app, shop, storefront, holdout, monkeypatch
):
    for cart_id, email in (("c-held", HELD), ("c-mailed", EMAILED), ("c-guest", ...)):
        assert storefront.put_cart(cart_id, email=email).status_code == 201
    carts = carts_by_cart_id(shop)
    assert carts["c-held"].recovery_holdout is True
    assert carts["c-mailed"].recovery_holdout is False
    assert carts["c-guest"].recovery_holdout is None  # no email, no group

    # The guest gives an address later, after the holdout was turned off: in no group.
    monkeypatch.setitem(app.config, "RECOVERY_HOLDOUT_PERCENT", 0)
    assert storefront.put_cart("c-guest", email="jo@example.com").status_code == 200
    assert storefront.put_cart("c-held", email=HELD, name="Dee again").status_code == 200
    carts = carts_by_cart_id(shop)
    assert carts["c-guest"].recovery_holdout is None
    assert carts["c-held"].recovery_holdout is True  # turning it off moves no cart


def test_a_cart_already_emailed_stays_in_the_emailed_group_when_its_email_changes(
    app, shop, quiet_cart, holdout
):
    cart_id, quiet = quiet_cart(email=EMAILED)
    assert shop.run(quiet + hours(1)).by_step == {1: 1}
    with app.app_context():
        cart = db.session.get(IncompleteOrder, cart_id)
        snap = snapshot(cart_id=cart.cart_id, email=HELD, snapshot_at=quiet + hours(2))
        assert apply_snapshot(snap, Actor.system("test"))[1] == "updated"
        db.session.commit()
    cart = shop.cart(cart_id)
    assert cart.email == HELD and cart.recovery_holdout is False


# --- never emailed: the run, a person, a bulk send ------------------------------------------


def test_the_run_never_emails_a_held_out_cart(app, shop, quiet_cart, smtp_server, holdout):
    held, quiet = quiet_cart(email=HELD)
    emailed, _ = quiet_cart(email=EMAILED)
    shop.update_cart(emailed, last_activity_at=quiet)
    for after in (1, 24, 72, 150):
        now = quiet + hours(after)
        shop.run(now)
        shop.deliver(now)
    assert [m["To"] for m in smtp_server.messages] == [EMAILED] * 3
    assert shop.outbox(held) == [] and shop.steps(held) == []
    assert shop.deliver() == NOTHING


def test_a_person_cannot_send_a_held_out_cart_the_next_step_and_the_page_says_why(
    client, login, shop, quiet_cart, smtp_server, holdout
):
    login("agent")
    held, _ = quiet_cart(hours_ago=2, email=HELD)
    page = text(client.get(f"/incomplete-orders/{held}").text)
    assert "Held out to measure recovery" in page
    assert "No recovery email goes to this cart, not even one sent by hand" in page
    assert "Scheduled for" not in page and "Send next step now" not in page

    confirm = text(client.get(f"/incomplete-orders/{held}/recovery/send-next").text)
    assert "No recovery email can go to this cart now" in confirm
    assert "Held out to measure recovery." in confirm
    for form in ({}, {"send_anyway": "y"}):
        refused = client.post(
            f"/incomplete-orders/{held}/recovery/send-next", data=form, follow_redirects=True
        )
        assert "No email was sent: held out to measure recovery." in text(refused.text)
    shop.deliver()
    assert shop.outbox(held) == [] and smtp_server.messages == []


def test_a_bulk_send_leaves_held_out_carts_out_and_counts_them(
    client, login, shop, quiet_cart, smtp_server, holdout
):
    login("agent")
    held = [quiet_cart(hours_ago=2, email=email)[0] for email in (HELD, "jo@example.com")]
    emailed, _ = quiet_cart(hours_ago=2, email=EMAILED)
    form = {"action": "send_next", "ids": [*held, emailed]}

    confirm = text(client.post("/incomplete-orders/bulk", data=form).text)
    assert "Send the next recovery email to 1 incomplete order?" in confirm
    assert "2 held out to measure recovery" in confirm
    done = client.post("/incomplete-orders/bulk", data={**form, "confirm": "y"})
    assert done.status_code == 302
    assert (
        "Queued the next recovery email for 1 incomplete order. "
        "2 left as they were: held out to measure recovery."
    ) in text(client.get(done.location).text)
    shop.deliver()
    assert [m["To"] for m in smtp_server.messages] == [EMAILED]
    assert all(shop.outbox(cart_id) == [] for cart_id in held)


def test_with_the_holdout_off_every_cart_is_emailed(shop, quiet_cart, smtp_server):
    held, quiet = quiet_cart(email=HELD)
    assert shop.cart(held).recovery_holdout is None
    assert shop.run(quiet + hours(1)).by_step == {1: 1}
    shop.deliver()
    assert [m["To"] for m in smtp_server.messages] == [HELD]
