"""Template filters: money in minor units, times in the shop's zone."""

from dashboard.money import format_money, shop_locale
from dashboard.timeutil import to_shop_time


def money(minor_units, currency):
    """Minor units of `currency` as the shop's locale writes money ("" for None)."""
    return format_money(minor_units, currency, locale=shop_locale())


def shop_time(value, fmt="%d %b %Y %H:%M"):
    try:
        local = to_shop_time(value)
    except OverflowError:  # stored before dates were bounded: shown as UTC, never a 500
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return local.strftime(fmt) if local else ""


def number(value):
    return f"{value:,}"


def register(app):
    from dashboard.audit.actions import action_label

    app.add_template_global(action_label)
    app.add_template_filter(money)
    app.add_template_filter(shop_time)
    app.add_template_filter(number)
