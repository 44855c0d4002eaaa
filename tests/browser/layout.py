"""How a page sits on the screen, measured as a person would see it."""


def sideways_scroll(page):
    """How far the page scrolls sideways, in CSS pixels (0 when it fits the viewport).

    Measured once the page has loaded: after a click, the new page's heading can be in the
    DOM while a stylesheet is still being revalidated, and a page laid out without it is wider
    than the page anyone sees.
    """
    page.wait_for_load_state("load")
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
