"""Streamed CSV downloads with cells neutralised against spreadsheet formulas, each holding
an export slot while it streams (dashboard.rate_limit): one person's large export cannot
take every worker, and a second one of theirs waits for the first."""

import csv
import io

from flask import Response, stream_with_context
from flask_login import current_user

from dashboard.rate_limit import claim_export_slot

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
ROWS_PER_CHUNK = 500


def safe_cell(value):
    """Text a spreadsheet will show as text: a leading ' before formula characters."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def stream_csv(filename, header, rows):
    """A download of `rows` (an iterable of tuples), written as they are produced.

    Raises rate_limit.TooManyAtOnce (a 429 that says why) while the signed-in staff member's
    own exports, or everyone's, already use every slot. The slot is freed when the download
    ends, fails or is closed half-read (the client went away), and lapses by itself if the
    process dies.
    """
    claim = claim_export_slot(current_user.id)
    chunks = _released_after(_csv_chunks(header, rows, claim.keep), claim)
    response = Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    # A response that is never read (HEAD, or an error before the first chunk) is still
    # closed by the server.
    response.call_on_close(claim.release)
    return response


def _csv_chunks(header, rows, between_chunks):
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def taken():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    yield taken()  # at once: the download starts before the first rows are read
    try:
        for n, row in enumerate(rows, 1):
            writer.writerow([safe_cell(v) for v in row])
            if n % ROWS_PER_CHUNK == 0:
                yield taken()
                between_chunks()
        yield taken()
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # a download closed half-read lets go of its rows' cursor now


def _released_after(chunks, claim):
    """`chunks`, releasing `claim` once they end, fail or are closed, or are collected
    unread: the generator is started here, so that its `finally` always runs."""

    def generate():
        try:
            yield None
            yield from chunks
        finally:
            claim.release()

    started = generate()
    next(started)
    return started
