"""Money as the shop shows and exports it: each currency's own decimal places, the shop's
locale, exact decimals, and one largest amount for forms, URLs and the API."""

import csv
import io
import re
from decimal import Decimal
from html import unescape

import pytest

from dashboard import money
from dashboard.api.openapi import openapi_document
from dashboard.formatting import money as money_filter
from dashboard.line_items import ItemSnapshot
from tests.factories import items

NBSP = "\u00a0"
LARGEST = money.MAX_MINOR_UNITS


# --- shown ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123450, "EUR", "€1,234.50"),
        (5, "EUR", "€0.05"),
        (120000, "JPY", "JP¥120,000"),  # yen have no minor unit: 120000 is ¥120,000
        (1234567, "KWD", f"KWD{NBSP}1,234.567"),  # three places; a letter code stands apart
        (999, "GBP", "£9.99"),
        (500, "USD", "US$5.00"),
        (-1250, "EUR", "-€12.50"),
        (0, "EUR", "€0.00"),
    ],
)
def test_amounts_show_with_their_currencys_places_in_the_shops_locale(ctx, minor, currency, shown):
    assert money_filter(minor, currency) == shown


def test_no_amount_shows_as_nothing(ctx):
    assert money_filter(None, "EUR") == ""
    assert money.csv_amount(None, "EUR") == ""


def test_the_shop_locale_decides_how_money_is_written(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_LOCALE", "de_DE")
    assert money_filter(123450, "EUR") == f"1.234,50{NBSP}€"
    assert money_filter(120000, "JPY") == f"120.000{NBSP}¥"


def test_a_page_shows_amounts_through_the_shops_locale(app, client, login, make_incomplete_order):
    login("agent")
    cart_id = make_incomplete_order(currency="JPY", items=[ItemSnapshot("TEA", "Sencha", 2, 1800)])
    page = unescape(client.get(f"/incomplete-orders/{cart_id}").text)
    assert "JP¥1,800" in page and "JP¥3,600" in page
    assert "JP¥18.00" not in page


# --- exact ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(1250, "EUR", "12.50"), (1200, "JPY", "1200"), (-3000, "KWD", "-3.000"), (7, "EUR", "0.07")],
)
def test_minor_units_become_exact_decimals_and_back(minor, currency, major):
    assert money.to_major(minor, currency) == Decimal(major)
    assert str(money.to_major(minor, currency)) == major  # the currency's places, kept
    assert money.to_minor(Decimal(major), currency) == minor
    assert str(money.csv_amount(minor, currency)) == major


def test_to_minor_refuses_fractions_finer_than_the_currency():
    with pytest.raises(money.FinerThanCurrency, match="at most 2 decimal places"):
        money.to_minor(Decimal("12.345"), "EUR")
    with pytest.raises(money.FinerThanCurrency, match="JPY amounts have no decimal places"):
        money.to_minor(Decimal("12.5"), "JPY")
    assert money.to_minor(Decimal("12.345"), "KWD") == 12345
    assert money.to_minor(Decimal("12.3400"), "EUR") == 1234  # trailing zeros are not finer


def test_to_minor_never_takes_a_float_and_never_rounds():
    with pytest.raises(TypeError):
        money.to_minor(0.1, "EUR")
    # 29 significant digits: ordinary Decimal arithmetic would round this to a whole cent.
    with pytest.raises(money.FinerThanCurrency):
        money.to_minor(Decimal("1234567.8900000000000000000001"), "EUR")


def test_csv_export_writes_exact_amounts_in_each_currency(client, login, make_incomplete_order):
    login("viewer")
    for currency, price in (("EUR", 1250), ("JPY", 1200), ("KWD", 1005)):
        make_incomplete_order(currency=currency, items=[ItemSnapshot("S", "Thing", 1, price)])
    header, *rows = csv.reader(io.StringIO(client.get("/incomplete-orders/export.csv").text))
    column = header.index("subtotal")
    by_currency = {r[header.index("currency")]: r[column] for r in rows}
    assert by_currency == {"EUR": "12.50", "JPY": "1200", "KWD": "1.005"}


# --- one largest amount -----------------------------------------------------------------------


def test_the_api_takes_amounts_up_to_the_largest_and_documents_it(api):
    schemas = openapi_document()["components"]["schemas"]
    assert schemas["LineItem"]["properties"]["unit_price"]["maximum"] == LARGEST
    assert schemas["OrderIn"]["properties"]["total"]["maximum"] == LARGEST

    assert api.put_cart("at-most", items=items(("A", 1, LARGEST))).status_code == 201
    too_dear = api.put_cart("too-dear", items=items(("A", 1, LARGEST + 1)))
    assert too_dear.status_code == 422
    assert "items.0.unit_price" in too_dear.json["error"]["fields"]
    assert api.post_order(total=LARGEST + 1).status_code == 422
    assert api.post_order(total=LARGEST).status_code == 201


def test_a_cart_may_not_add_up_to_more_than_the_largest_amount(api):
    # Each price is allowed, but the subtotal Reclaim keeps, sorts and pages on is not.
    response = api.put_cart("sum", items=items(("A", 2, LARGEST // 2 + 1)))
    assert response.status_code == 422
    assert "more than 1,000,000,000,000 minor units" in response.json["error"]["fields"]["items"]
    assert api.put_cart("sum", items=items(("A", 2, LARGEST // 2))).status_code == 201


def _filter_problems(html):
    alert = re.search(r"Some filters were not applied:(.*?)</div>", html, re.S)
    return unescape(alert.group(1)) if alert else ""


def test_the_value_filter_takes_amounts_up_to_the_largest_in_the_shops_currency(
    app, client, login, make_incomplete_order, monkeypatch
):
    login("agent")
    cheap = make_incomplete_order(items=[ItemSnapshot("S", "Thing", 1, 1250)])
    largest = str(money.to_major(LARGEST, "EUR"))  # 10000000000.00
    assert _filter_problems(client.get(f"/incomplete-orders/?max_value={largest}").text) == ""
    refused = _filter_problems(client.get("/incomplete-orders/?max_value=10000000000.01").text)
    assert "Must be from 0 to 10,000,000,000." in refused
    finer = _filter_problems(client.get("/incomplete-orders/?min_value=12.505").text)
    assert "EUR amounts have at most 2 decimal places." in finer

    page = client.get("/incomplete-orders/?min_value=12.50&max_value=12.50").text
    assert f'href="/incomplete-orders/{cheap}?back=' in page


def test_the_value_filter_counts_in_the_shops_currency(
    app, client, login, make_incomplete_order, monkeypatch
):
    monkeypatch.setitem(app.config, "SHOP_CURRENCY", "JPY")
    login("agent")
    tea = make_incomplete_order(currency="JPY", items=[ItemSnapshot("TEA", "Sencha", 1, 1800)])
    assert (
        f'href="/incomplete-orders/{tea}?back='
        in client.get("/incomplete-orders/?min_value=1800").text
    )
    assert (
        f'href="/incomplete-orders/{tea}?back='
        not in client.get("/incomplete-orders/?min_value=1801").text
    )
    refused = _filter_problems(client.get("/incomplete-orders/?min_value=12.5").text)
    assert "JPY amounts have no decimal places." in refused
    too_much = _filter_problems(client.get("/incomplete-orders/?min_value=1000000000001").text)
    assert "Must be from 0 to 1,000,000,000,000." in too_much


def test_a_cursor_beyond_the_largest_amount_starts_from_the_first_page(
    client, login, make_incomplete_order
):
    login("agent")
    ids = [make_incomplete_order() for _ in range(2)]
    first = client.get("/incomplete-orders/?sort=value").text
    beyond = client.get(f"/incomplete-orders/?sort=value&cursor=after~{LARGEST + 1}~1").text
    assert beyond.count('href="/incomplete-orders/') == first.count('href="/incomplete-orders/')
    assert all(f'href="/incomplete-orders/{i}?back=' in beyond for i in ids)
