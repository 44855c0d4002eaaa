"""The overview: key counts of the queue, loaded after the page."""


def test_overview_loads_status_counts_on_its_own_request(client, login, make_incomplete_order):
    login("viewer")
    for status in ("open", "open", "open", "expired", "cancelled"):
        make_incomplete_order(status=status)

    page = client.get("/")
    assert page.status_code == 200
    assert 'hx-get="/overview/status-counts"' in page.text

    counts = client.get("/overview/status-counts", headers={"HX-Request": "true"})
    assert counts.status_code == 200
    for label, value in (("Open", "3"), ("Converted", "0"), ("Expired", "1"), ("Cancelled", "1")):
        card = counts.text.split(f"{label} incomplete orders", 1)[1]
        assert f'<div class="stat-value tabular">{value}</div>' in card.split("</a>", 1)[0]
