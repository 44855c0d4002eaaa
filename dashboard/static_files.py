"""Static files a browser keeps: every `url_for('static', ...)` carries the file's content
hash (`/static/app.css?v=3f2a9c1b0d`), and a request with the current hash is answered as
cacheable for a year. A page then loads its stylesheets and scripts from the browser's
cache, with no request for each to ask whether it changed; a changed file has a new hash,
so a new address, and is fetched at once. Without the hash, or with an old one, a file is
served as before: revalidated on each use.
"""

import hashlib
import os

from flask import request
from werkzeug.security import safe_join

YEAR_SECONDS = 365 * 24 * 3600


class StaticVersions:
    """The content hash of each static file, read again when the file changes on disk
    (its size or modification time), so an edited file gets a new address without a
    restart."""

    def __init__(self, folder):
        self.folder = folder
        self._known = {}  # filename -> ((mtime_ns, size), hash)

    def __call__(self, filename):
        path = safe_join(self.folder, filename)
        try:
            stat = os.stat(path)
            key = (stat.st_mtime_ns, stat.st_size)
            known = self._known.get(filename)
            if known is None or known[0] != key:
                with open(path, "rb") as file:
                    digest = hashlib.sha256(file.read()).hexdigest()[:10]
                known = self._known[filename] = (key, digest)
        # TypeError: safe_join refused the name (None); OSError: missing, or a folder. Either
        # is the static route's 404 to give.
        except (OSError, TypeError):
            return None
        return known[1]


def register(app):
    versions = StaticVersions(app.static_folder)

    @app.url_defaults
    def add_version(endpoint, values):
        if endpoint == "static" and "v" not in values:
            version = versions(values.get("filename", ""))
            if version:
                values["v"] = version

    @app.after_request
    def cache_versioned(response):
        if (
            request.endpoint == "static"
            and response.status_code in (200, 304)
            and request.args.get("v")
            and request.args["v"] == versions(request.view_args.get("filename", ""))
        ):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_SECONDS
            response.cache_control.immutable = True
        return response
