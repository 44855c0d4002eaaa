"""Panels other domains add to an incomplete order's page, so that this domain need not
know them: `register_panel(app, "recovery/_ledger_panel.html", lambda order: {...})`."""

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Panel:
    template: str
    context: object  # (order) -> dict, read by the template as `panel.<name>`


class RenderedPanel(dict):
    """What a panel's template sees as `panel`: its template and its context's values."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def register_panel(app, template, context):
    app.extensions.setdefault("incomplete_order_panels", []).append(Panel(template, context))


def panels_for(order):
    return [
        RenderedPanel(template=panel.template, **panel.context(order))
        for panel in current_app.extensions.get("incomplete_order_panels", [])
    ]
