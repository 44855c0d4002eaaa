"""The storefront's JSON API under /api/: key authentication, JSON errors and limits of
its own (views.py), so the staff pages' session, CSRF, NUL and rate-limit hooks step aside
for it."""

PATH_PREFIX = "/api/"


def is_api_request(request):
    return request.path.startswith(PATH_PREFIX)
