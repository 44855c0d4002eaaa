"""The command line: create-staff and seed-demo; and /healthz for monitoring."""

from datetime import timedelta

import pytest
from sqlalchemy import String, cast, func, literal, select

from dashboard.analytics import definitions as analytics
from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.auth.models import Staff
from dashboard.extensions import db
from dashboard.incomplete_orders.models import IncompleteOrder, IncompleteOrderItem
from dashboard.orders.models import Order
from dashboard.outbox.models import OutboxMessage
from dashboard.recovery.models import RecoveryAttempt
from dashboard.timeutil import utcnow


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def _staff(app, email):
    with app.app_context():
        return db.session.scalar(select(Staff).where(Staff.email == email))


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- create-staff --------------------------------------------------------------------------


def test_create_staff_adds_an_account_that_can_sign_in(app, client, run):
    result = run(
        "create-staff", "Ana@Example.com", "--role", "agent", "--password", "pw-123456-long"
    )
    assert result.exit_code == 0, result.output
    assert "Created agent ana@example.com." in result.output
    assert _staff(app, "ana@example.com").role == "agent"
    response = client.post(
        "/login", data={"email": "ana@example.com", "password": "pw-123456-long"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", "pw-123456-long"], "Missing option '--role'"),
        (["--role", "admin", "--password", "pw-123456-long"], "Invalid value for '--role'"),
        (["--role", "agent", "--password", "short"], "at least 12 characters"),
    ],
)
def test_create_staff_refuses_bad_input_with_a_message(app, run, args, message):
    result = run("create-staff", "ana@example.com", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert _count(app, Staff) == 0


def test_create_staff_refuses_a_duplicate_email(app, run):
    run("create-staff", "ana@example.com", "--role", "agent", "--password", "pw-123456-long")
    result = run(
        "create-staff", "ANA@example.com", "--role", "manager", "--password", "pw-654321-long"
    )
    assert result.exit_code == 1
    assert "A staff account for ana@example.com already exists." in result.output
    assert _staff(app, "ana@example.com").role == "agent"


def test_create_staff_prompts_for_the_password_twice(app, run):
    result = run(
        "create-staff",
        "ana@example.com",
        "--role",
        "viewer",
        input="pw-123456-long\npw-123456-long\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "pw-123456-long" not in result.output
    assert _staff(app, "ana@example.com").check_password("pw-123456-long")


# --- seed-demo ------------------------------------------------------------------------------


def _empty_database(app):
    with app.app_context(), db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


def _fingerprint(app):
    with app.app_context():
        return db.session.execute(
            select(
                IncompleteOrder.cart_id,
                IncompleteOrder.email,
                IncompleteOrder.subtotal,
                IncompleteOrder.status,
            ).order_by(IncompleteOrder.cart_id)
        ).all()


def test_seed_demo_creates_carts_with_items_and_some_converted_orders(app, run):
    result = run("seed-demo", "--orders", "300", "--seed", "7")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IncompleteOrder)) == 300
        carts_with_items = db.session.scalar(
            select(func.count(func.distinct(IncompleteOrderItem.incomplete_order_id)))
        )
        assert carts_with_items == 300
        converted = db.session.scalars(
            select(IncompleteOrder).where(IncompleteOrder.status == "converted")
        ).all()
        orders = db.session.scalars(select(Order)).all()
        assert converted and len(orders) == len(converted)
        for order in orders:
            assert order.incomplete_order.status == "converted"
            assert order.total == order.incomplete_order.subtotal
            assert order.items


def test_seed_demo_sends_its_recovery_emails_through_the_outbox(app, run):
    """Each seeded recovery step is an email that went out, so the demo's history reads the
    same in a cart's timeline, the outbox and the analytics: no cart is clicked, or
    recovered, without an email that went out."""
    result = run("seed-demo", "--orders", "400", "--seed", "7")
    assert result.exit_code == 0, result.output
    with app.app_context():
        sent = db.session.execute(
            select(RecoveryAttempt, OutboxMessage, IncompleteOrder.email)
            .join(IncompleteOrder, IncompleteOrder.id == RecoveryAttempt.incomplete_order_id)
            .outerjoin(
                OutboxMessage,
                OutboxMessage.dedupe_key
                == literal("recovery:")
                + cast(RecoveryAttempt.incomplete_order_id, String)
                + literal(":")
                + cast(RecoveryAttempt.step, String),
            )
        ).all()
        assert sent
        subjects = {
            1: "You left something in your cart",
            2: "Your cart is still waiting for you",
            3: f"Last reminder: your cart at {app.config['SHOP_NAME']}",
        }
        for attempt, message, email in sent:
            assert message is not None, attempt.incomplete_order_id
            assert message.status == "sent" and message.to_email == email
            assert message.kind == "recovery" and message.record_id == attempt.incomplete_order_id
            assert attempt.sent_at <= message.sent_at <= attempt.sent_at + timedelta(minutes=2)
            assert message.subject == subjects[attempt.step]
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == len(sent)

        settings = AnalyticsSettings.from_config()
        carts = select(func.count()).select_from(IncompleteOrder)
        clicked_not_emailed = carts.where(analytics.clicked(), ~analytics.emailed())
        assert db.session.scalar(clicked_not_emailed) == 0
        assert db.session.scalar(carts.where(analytics.recovered(settings))) > 0


def test_seed_demo_refuses_a_database_with_data_unless_appending(app, run):
    run("seed-demo", "--orders", "300", "--seed", "7")
    refused = run("seed-demo", "--orders", "300", "--seed", "7")
    assert refused.exit_code != 0
    assert "already has 300 incomplete orders. Use --append" in refused.output
    assert _count(app, IncompleteOrder) == 300

    appended = run("seed-demo", "--orders", "50", "--seed", "8", "--append")
    assert appended.exit_code == 0, appended.output
    assert _count(app, IncompleteOrder) == 350


def test_seed_demo_spreads_the_carts_over_the_days_asked_for(app, run):
    result = run("seed-demo", "--orders", "400", "--seed", "7", "--days", "730")
    assert result.exit_code == 0, result.output
    with app.app_context():
        first, last = db.session.execute(
            select(func.min(IncompleteOrder.created_at), func.max(IncompleteOrder.created_at))
        ).one()
    # Spread over two years, not the default half year: the first cart is over a year old.
    assert timedelta(days=365) < utcnow() - first <= timedelta(days=731)
    assert utcnow() - last < timedelta(days=30)

    refused = run("seed-demo", "--orders", "10", "--days", "0", "--append")
    assert refused.exit_code != 0
    assert "--days" in refused.output and _count(app, IncompleteOrder) == 400


def test_seed_demo_is_deterministic_for_a_seed(app, run):
    run("seed-demo", "--orders", "300", "--seed", "7")
    first = _fingerprint(app)
    _empty_database(app)
    run("seed-demo", "--orders", "300", "--seed", "7")
    assert _fingerprint(app) == first
    _empty_database(app)
    run("seed-demo", "--orders", "300", "--seed", "8")
    assert _fingerprint(app) != first


# --- health -----------------------------------------------------------------------------------


def test_healthz_reports_the_database_without_a_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok"
