"""Money: integer minor units of an ISO currency, with that currency's decimal places.

Amounts are stored and computed as integers; they become Decimals only to be shown or
exported, never floats. How many places a currency has comes from CLDR through Babel
(JPY none, EUR two, KWD three).
"""

from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
)
from flask import current_app

# The largest amount Reclaim takes anywhere, in minor units: a price, a cart, an order's
# total, a filter value, a cursor. Ten billion euros is a bug, not a cart; and 200 lines of
# 10,000 pieces at this price still fit a BIGINT.
MAX_MINOR_UNITS = 10**12

# English as the staff read it, with the grouping and symbols most of Europe's shops expect
# from an English interface: €1,234.50, £9.99, US$5.00 (the "US" tells dollars apart).
DEFAULT_LOCALE = "en_GB"

_NO_BREAK_SPACE = "\u00a0"


def shop_currency():
    return current_app.config["SHOP_CURRENCY"]


def shop_locale():
    return current_app.config.get("SHOP_LOCALE", DEFAULT_LOCALE)


class OutOfRange(ValueError):
    """More than Reclaim takes as an amount (MAX_MINOR_UNITS), or not a number at all."""


class FinerThanCurrency(ValueError):
    """An amount with more decimal places than its currency has (12.345 EUR)."""


def places(currency: str) -> int:
    """Decimal places of the currency's minor unit; 2 for a code CLDR does not know."""
    return get_currency_precision(currency)


def to_major(minor_units: int, currency: str) -> Decimal:
    """Minor units as an exact Decimal in major units: 1250 EUR -> 12.50, 1200 JPY -> 1200."""
    return Decimal(int(minor_units)).scaleb(-places(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in major units as exact minor units: 12.50 EUR -> 1250.

    Refuses what is not an amount Reclaim takes: a float, NaN or infinity, more than
    MAX_MINOR_UNITS either way (OutOfRange), and fractions finer than the currency has
    (FinerThanCurrency: 12.345 EUR). Never rounds.
    """
    if isinstance(amount, float):
        raise TypeError("money is never a float: pass a Decimal or a string")
    amount = Decimal(amount)
    digits = places(currency)
    largest = to_major(MAX_MINOR_UNITS, currency)
    if not amount.is_finite() or abs(amount) > largest:
        raise OutOfRange(f"{amount} {currency} is not an amount from -{largest} to {largest}")
    # Integer arithmetic on the digits: Decimal operations would round past 28 digits.
    sign, coefficient_digits, exponent = amount.as_tuple()
    coefficient = int("".join(map(str, coefficient_digits)))
    shift = exponent + digits
    if shift >= 0:
        minor = coefficient * 10**shift
    else:
        minor, rest = divmod(coefficient, 10**-shift)
        if rest:
            raise FinerThanCurrency(_finer_message(currency))
    return -minor if sign else minor


def _range_message(currency, locale=DEFAULT_LOCALE):
    largest = format_decimal(to_major(MAX_MINOR_UNITS, currency), locale=locale)
    return f"Must be from 0 to {largest}."


def _finer_message(currency):
    digits = places(currency)
    if digits == 0:
        return f"{currency} amounts have no decimal places."
    return f"{currency} amounts have at most {digits} decimal place{'s' if digits > 1 else ''}."


def format_money(minor_units, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """An amount for people to read, as the locale writes it: €1,234.50, 1.234,50 €, JP¥1,200."""
    if minor_units is None:
        return ""
    if type(minor_units) is int:
        return _format_money(minor_units, currency, locale)
    return _format_money.__wrapped__(minor_units, currency, locale)


# A list page shows a hundred amounts, and Babel takes ~0.1 ms for each: the same amount in
# the same currency and locale always reads the same, so it is written once.
@lru_cache(maxsize=16384)
def _format_money(minor_units, currency, locale_name):
    # Babel parses a locale name on every call: parsed once, too.
    locale = _locale(locale_name)
    text = format_currency(to_major(minor_units, currency), currency, locale=locale)
    return _space_after_letters(text, currency, locale)


@lru_cache(maxsize=32)
def _locale(name):
    return Locale.parse(name)


def _space_after_letters(text, currency, locale):
    # CLDR's currency spacing: a symbol made of letters (CHF, KWD) is kept apart from the
    # digits ("CHF 12.50", not "CHF12.50"). Babel does not apply that rule itself.
    symbol = get_currency_symbol(currency, locale=locale)
    at = text.find(symbol)
    end = at + len(symbol)
    if at >= 0 and symbol[-1].isalpha() and end < len(text) and text[end].isdigit():
        return text[:end] + _NO_BREAK_SPACE + text[end:]
    return text


def csv_amount(minor_units, currency: str) -> Decimal | str:
    """The exact amount for a spreadsheet, which csv writes as 12.50, 1200 (JPY), -3.000 (KWD).

    A Decimal rather than text, so the formula guard on text cells leaves a negative amount
    a number. "" for None.
    """
    if minor_units is None:
        return ""
    return to_major(minor_units, currency)


def shop_amount_problem(amount: Decimal | None) -> str | None:
    """Why an amount typed in the shop's currency cannot be used, or None if it can."""
    if amount is None:
        return None
    currency = shop_currency()
    if amount.is_finite() and amount < 0:
        return _range_message(currency, shop_locale())
    try:
        to_minor(amount, currency)
    except OutOfRange:
        return _range_message(currency, shop_locale())
    except FinerThanCurrency as finer:
        return str(finer)
    return None
