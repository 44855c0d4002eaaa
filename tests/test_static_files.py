"""Stylesheets and scripts are kept by the browser: a page links each with its content's
hash, that address may be cached for a year, and a changed file gets a new address."""

import re

from dashboard.static_files import YEAR_SECONDS, StaticVersions


def _static_links(html):
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_a_page_links_its_static_files_by_their_content_and_they_are_kept(client):
    links = _static_links(client.get("/login").get_data(as_text=True))
    assert any(link.startswith("/static/app.css?v=") for link in links), links
    assert all(re.search(r"\?v=[0-9a-f]{10}$", link) for link in links), links
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        cache = response.cache_control
        assert cache.public and cache.immutable and cache.max_age == YEAR_SECONDS, link
        assert not cache.no_cache and not cache.no_store, link


def test_a_file_without_its_current_hash_is_revalidated_as_before(client):
    for path in ("/static/app.css", "/static/app.css?v=0000000000"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.cache_control.max_age != YEAR_SECONDS, path
        assert not response.cache_control.immutable, path


def test_pages_themselves_are_still_never_kept(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"


def test_an_edited_file_gets_a_new_address_and_a_missing_one_none(tmp_path):
    versions = StaticVersions(str(tmp_path))
    (tmp_path / "app.css").write_text("body { color: black; }")
    first = versions("app.css")
    assert first == versions("app.css")
    (tmp_path / "app.css").write_text("body { color: navy; }")
    assert versions("app.css") not in (None, first)
    assert versions("gone.css") is None
    assert versions("../outside.css") is None
    (tmp_path / "vendor").mkdir()
    assert versions("vendor") is None
