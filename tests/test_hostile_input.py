"""Hostile input answers 4xx, never 5xx: values that once answered 500, each on the routes
it broke."""

import json

import pytest

from dashboard.listing import MAX_ID

BAD_NUMBERS = ["sNaN", "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
LIST_URLS = ["/incomplete-orders/", "/incomplete-orders/count", "/incomplete-orders/export.csv"]


@pytest.mark.parametrize("url", LIST_URLS)
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_value_that_is_not_a_number_is_refused_not_a_500(client, login, url, value):
    login("manager")
    response = client.get(url, query_string={"min_value": value, "max_value": value})
    assert response.status_code < 500


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_bulk_filter_that_is_not_a_number_is_refused_not_a_500(client, login, value):
    login("manager")
    response = client.post(
        "/incomplete-orders/bulk",
        data={"action": "expire", "all_matching": "y", "filter_query": f"min_value={value}"},
    )
    assert response.status_code < 500


NUL_QUERIES = [
    ("/incomplete-orders/", "q"),
    ("/incomplete-orders/count", "q"),
    ("/incomplete-orders/export.csv", "q"),
    ("/orders/", "q"),
    ("/audit/", "actor"),
    ("/returns/", "q"),
    ("/outbox/", "q"),
]


@pytest.mark.parametrize(("url", "name"), NUL_QUERIES)
def test_a_nul_in_the_query_string_is_a_400_that_says_so(client, login, url, name):
    login("manager")
    response = client.get(url, query_string={name: "abc\x00def"})
    assert response.status_code == 400
    assert "NUL" in response.text


def test_a_nul_in_a_note_is_a_400_not_a_500(client, login, make_incomplete_order, app):
    login("manager")
    order_id = make_incomplete_order()
    response = client.post(f"/incomplete-orders/{order_id}/notes", data={"body": "hi\x00there"})
    assert response.status_code == 400
    assert "NUL" in response.text


@pytest.mark.parametrize("big", [str(MAX_ID + 1), "9223372036854775808", "-1", "1e3", "99" * 40])
def test_bulk_ids_beyond_what_the_database_holds_are_refused(client, login, big):
    login("manager")
    response = client.post("/incomplete-orders/bulk", data={"action": "expire", "ids": big})
    assert response.status_code < 500


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, "[" * 5_000 + "]" * 5_000, '{"a":' * 5_000 + "1" + "}" * 5_000],
    ids=["open-brackets", "nested-lists", "nested-objects"],
)
@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/incomplete-orders/cart-1"), ("POST", "/orders")]
)
def test_deeply_nested_json_is_a_json_400_not_a_500(api, method, path, body):
    response = api.request(method, path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("cart_id", ["a/b", "a%0Ab/c", "/a"])
def test_a_cart_id_with_a_slash_is_a_422_naming_the_field(api, cart_id):
    response = api.put(
        f"/incomplete-orders/{cart_id}", data=json.dumps({}), content_type="application/json"
    )
    assert response.status_code == 422
    assert "cart_id" in response.json["error"]["fields"]
    assert api.get("/incomplete-orders/a/b").status_code == 404  # no cart has such an id


@pytest.mark.parametrize("record_id", ["9" * 400, str(MAX_ID + 1), "0"])
def test_an_audit_record_id_no_table_holds_is_explained_not_a_500(client, login, record_id):
    login("manager")
    response = client.get("/audit/", query_string={"record_id": record_id})
    assert response.status_code == 200
    assert "Not a record id." in response.text
