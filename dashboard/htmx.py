"""Helpers for pages that are also htmx fragments."""

import json

from flask import make_response, render_template, request


def is_htmx():
    return request.headers.get("HX-Request") == "true"


def render_page_or_fragment(page_template, fragment_template, **context):
    """Render the whole page, or only its fragment for an htmx request."""
    template = fragment_template if is_htmx() else page_template
    response = make_response(render_template(template, **context))
    response.headers["Vary"] = "HX-Request"
    return response


def toast(response, message, level="info"):
    """Ask the page to show a toast (works on responses htmx does not swap, too)."""
    response.headers["HX-Trigger"] = json.dumps({"toast": {"message": message, "level": level}})
    return response
