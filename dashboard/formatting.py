"""Template filters: money in minor units, times in the shop's zone."""

from dashboard.timeutil import to_shop_time

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def money(minor_units, currency):
    if minor_units is None:
        return ""
    sign = "-" if minor_units < 0 else ""
    major, minor = divmod(abs(int(minor_units)), 100)
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{major:,}.{minor:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def shop_time(value, fmt="%d %b %Y %H:%M"):
    local = to_shop_time(value)
    return local.strftime(fmt) if local else ""


def number(value):
    return f"{value:,}"


def register(app):
    from dashboard.audit.actions import action_label

    app.add_template_global(action_label)
    app.add_template_filter(money)
    app.add_template_filter(shop_time)
    app.add_template_filter(number)
