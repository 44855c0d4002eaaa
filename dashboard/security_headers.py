"""Headers every response carries: a strict Content-Security-Policy (no inline script
anywhere: behaviour lives in static/*.js), no framing, no MIME sniffing, a referrer only
to ourselves, no powerful browser features, HSTS over HTTPS (PROXY_FIX_HOPS makes a
proxy's X-Forwarded-Proto count), and no caching of pages or exports with customer data.
"""

from flask import request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # No inline style either: an email's inline-styled HTML is previewed from its own
        # address with its own policy (outbox.preview), and htmx's indicator rule is in
        # app.css (includeIndicatorStyles off in base.html).
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
HEADERS_OVER_HTTPS = {**HEADERS, "Strict-Transport-Security": HSTS}


def register(app):
    @app.after_request
    def security_headers(response):
        # A header the view set itself stays (the email preview's own policy). Read once:
        # each setdefault would scan the response's headers again.
        present = {name.lower() for name, _ in response.headers}
        wanted = HEADERS_OVER_HTTPS if request.is_secure else HEADERS
        response.headers.extend(
            [(name, value) for name, value in wanted.items() if name.lower() not in present]
        )
        if request.endpoint != "static":
            # Staff pages, exports and API answers hold customer data: never kept by a
            # browser or a proxy (the htmx history cache is off for the same reason).
            response.headers["Cache-Control"] = "no-store"
        return response
