"""What anyone can reach says little: /healthz names no host or process, and an unsubscribe
link does not carry the customer's address where anyone can read it."""

import base64
import json
import socket

from itsdangerous import URLSafeTimedSerializer

from dashboard.extensions import db
from dashboard.jobs import lease
from dashboard.recovery.tokens import read_unsubscribe_token, unsubscribe_token


def test_healthz_says_whether_the_database_and_the_scheduler_are_up_and_no_more(app, client):
    assert client.get("/healthz").json == {
        "status": "ok",
        "database": "ok",
        "scheduler": {"enabled": app.config["SCHEDULER_ENABLED"], "running": False},
    }
    with app.app_context():
        holder = lease.process_identity()
        assert lease.try_acquire(holder, 60)
        db.session.commit()
    response = client.get("/healthz")
    assert response.json["scheduler"]["running"] is True
    assert socket.gethostname() not in response.text and holder not in response.text


def _payload(token):
    encoded = token.split(".")[0]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def test_an_unsubscribe_link_hides_the_address_and_still_reads_back(app, client):
    with app.test_request_context():
        token = unsubscribe_token("mara.customer@example.com")
        assert read_unsubscribe_token(token) == "mara.customer@example.com"
        assert unsubscribe_token("mara.customer@example.com") != token  # no fixed pseudonym
    assert b"mara" not in _payload(token) and "mara" not in token
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "mara.customer@example.com" in page.text


def test_an_unsubscribe_link_from_an_email_sent_before_still_works(app, client):
    with app.test_request_context():
        old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="reclaim-unsubscribe").dumps(
            {"e": "ada@example.com"}
        )
    assert json.loads(_payload(old)) == {"e": "ada@example.com"}
    assert client.post(f"/u/{old}").status_code == 200
    with app.app_context():
        from dashboard.recovery.models import Suppression

        assert db.session.get(Suppression, "ada@example.com") is not None


def test_a_tampered_unsubscribe_link_is_refused(app):
    with app.test_request_context():
        token = unsubscribe_token("ada@example.com")
        payload, rest = token.split(".", 1)
        tampered = ("A" if payload[0] != "A" else "B") + payload[1:] + "." + rest
        assert read_unsubscribe_token(tampered) is None
        assert read_unsubscribe_token("x" * 40) is None
