"""Errors as JSON: {"error": {"code", "message", "fields"}} with the right status."""

from flask import jsonify

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "server_error",
}


class ApiError(Exception):
    def __init__(self, status, message, code=None, fields=None, headers=None, **extra):
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or STATUS_CODES.get(status, "error")
        self.fields, self.headers, self.extra = fields, headers or {}, extra


def error_response(status, message, code=None, fields=None, headers=None, **extra):
    body = {"code": code or STATUS_CODES.get(status, "error"), "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    response = jsonify(error=body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def from_validation_error(error):
    """422 with one message per field, named by its path (items.0.quantity)."""
    fields = {}
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "body"
        message = problem["msg"].removeprefix("Value error, ")
        fields.setdefault(path, message)
    return ApiError(422, "Some fields are missing or invalid; see fields.", fields=fields)
