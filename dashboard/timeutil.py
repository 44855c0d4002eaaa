"""Times are stored as naive UTC datetimes and shown in the shop's time zone."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


def as_utc(value):
    """A stored (naive UTC) time as an aware one, for the API."""
    return value.replace(tzinfo=UTC) if value is not None else None


def shop_zone():
    return ZoneInfo(current_app.config["SHOP_TIMEZONE"])


def to_shop_time(value):
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(shop_zone())


def shop_day_start_utc(day):
    """The UTC instant at which `day` (a date in the shop's zone) begins."""
    local = datetime.combine(day, time.min, tzinfo=shop_zone())
    return local.astimezone(UTC).replace(tzinfo=None)
