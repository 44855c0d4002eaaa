"""The daily rollups: one row per shop day and its breakdown, recomputed while a day can
still change and frozen after. Counts are carts (or requests); money is minor units of the
row's currency."""

from dashboard.extensions import db
from dashboard.timeutil import utcnow


def _count():
    return db.Column(db.Integer, nullable=False, default=0)


def _money():
    return db.Column(db.BigInteger, nullable=False, default=0)


class _RecoveryFigures:
    """Carts abandoned on a shop day, by stage reached, currency, value band and customer
    kind, with what became of them."""

    day = db.Column(db.Date, primary_key=True)
    stage = db.Column(db.String(20), primary_key=True)
    currency = db.Column(db.String(3), primary_key=True)
    value_band = db.Column(db.SmallInteger, primary_key=True)
    customer = db.Column(db.String(10), primary_key=True)  # guest | registered
    abandoned = _count()
    abandoned_value = _money()
    recoverable = _count()
    emailed = _count()
    clicked = _count()
    recovered = _count()
    recovered_clicked = _count()
    recovered_revenue = _money()
    net_recovered_revenue = _money()
    late = _count()
    self_converted = _count()
    lost = _count()
    still_open = _count()
    # The recovery holdout's comparison (migration 0014): the carts in it, held out or not.
    held_out = _count()
    held_out_converted = _count()
    held_out_revenue = _money()
    not_held_out = _count()
    not_held_out_emailed = _count()
    not_held_out_converted = _count()
    not_held_out_revenue = _money()


class RecoveryDay(_RecoveryFigures, db.Model):
    __tablename__ = "analytics_recovery_days"


class _StepFigures:
    """The recovery emails of the carts abandoned on a shop day, by step."""

    day = db.Column(db.Date, primary_key=True)
    step = db.Column(db.Integer, primary_key=True)
    stage = db.Column(db.String(20), primary_key=True)
    currency = db.Column(db.String(3), primary_key=True)
    sent = _count()
    failed = _count()
    withdrawn = _count()
    clicked = _count()
    recovered = _count()
    recovered_revenue = _money()
    unsubscribed = _count()


class StepDay(_StepFigures, db.Model):
    __tablename__ = "analytics_step_days"


class HourDay(db.Model):
    """Carts abandoned in an hour of a shop day (the shop's clock), for the heat table."""

    __tablename__ = "analytics_hour_days"

    day = db.Column(db.Date, primary_key=True)
    hour = db.Column(db.SmallInteger, primary_key=True)
    stage = db.Column(db.String(20), primary_key=True)
    abandoned = _count()
    recovered = _count()


class _SkuFigures:
    """The products in the carts abandoned on a shop day: how many carts held each, how
    many units, and how many of those carts were recovered."""

    day = db.Column(db.Date, primary_key=True)
    sku = db.Column(db.String(64), primary_key=True)
    stage = db.Column(db.String(20), primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    carts = _count()
    units = _count()
    recovered = _count()


class SkuDay(_SkuFigures, db.Model):
    __tablename__ = "analytics_sku_days"
    __table_args__ = (db.Index("ix_analytics_sku_days_sku_day", "sku", "day"),)


# The same figures summed per calendar month of shop days (`day` is the month's first), from
# the stored days of the month, rewritten with them: a long range reads its whole months
# here (two years: 24 rows per breakdown instead of 730).


class RecoveryMonth(_RecoveryFigures, db.Model):
    __tablename__ = "analytics_recovery_months"


class StepMonth(_StepFigures, db.Model):
    __tablename__ = "analytics_step_months"


class SkuMonth(_SkuFigures, db.Model):
    __tablename__ = "analytics_sku_months"


class HourMonth(db.Model):
    """Carts abandoned in an hour of the shop's clock, per month and weekday (0 = Sunday):
    the heat table of a long range."""

    __tablename__ = "analytics_hour_months"

    day = db.Column(db.Date, primary_key=True)
    weekday = db.Column(db.SmallInteger, primary_key=True)
    hour = db.Column(db.SmallInteger, primary_key=True)
    stage = db.Column(db.String(20), primary_key=True)
    abandoned = _count()
    recovered = _count()


# Each day table's month table.
MONTHS_OF = {RecoveryDay: RecoveryMonth, StepDay: StepMonth, SkuDay: SkuMonth, HourDay: HourMonth}


class ReturnDay(db.Model):
    """Return requests by shop day, type and reason: each figure on the day its event
    happened (submitted, decided, received, completed). Times to decision, receipt and
    completion are histograms (hours, see analytics.returns.HOURS_BUCKETS) so days add up
    and medians come from the sum."""

    __tablename__ = "analytics_return_days"

    day = db.Column(db.Date, primary_key=True)
    type = db.Column(db.String(12), primary_key=True)
    reason = db.Column(db.String(20), primary_key=True)
    currency = db.Column(db.String(3), primary_key=True)
    requests = _count()
    units = _count()
    requests_on_recovered_orders = _count()
    approved = _count()
    rejected = _count()
    decided_within_sla = _count()
    decision_hours = db.Column(db.Text, nullable=False, default="[]")
    received = _count()
    receipt_hours = db.Column(db.Text, nullable=False, default="[]")
    completed = _count()
    completion_hours = db.Column(db.Text, nullable=False, default="[]")
    refunded = _money()
    refunded_original_payment = _money()
    refunded_store_credit = _money()
    replacements = _count()


class OrderDay(db.Model):
    """Orders placed on a shop day, and how many of them recovery emails won: the return
    rates' denominators. Stored with the returns' days (kind "returns")."""

    __tablename__ = "analytics_order_days"

    day = db.Column(db.Date, primary_key=True)
    orders = _count()
    recovered_orders = _count()


class RolledDay(db.Model):
    """A shop day whose rollup of `kind` (recovery | returns) is stored, and when."""

    __tablename__ = "analytics_rolled_days"

    kind = db.Column(db.String(10), primary_key=True)
    day = db.Column(db.Date, primary_key=True)
    computed_at = db.Column(db.DateTime, nullable=False, default=utcnow)


# Every table a run fills: what a recount from scratch clears.
ROLLUP_MODELS = (
    RecoveryDay,
    StepDay,
    HourDay,
    SkuDay,
    ReturnDay,
    OrderDay,
    RolledDay,
    RecoveryMonth,
    StepMonth,
    SkuMonth,
    HourMonth,
)
