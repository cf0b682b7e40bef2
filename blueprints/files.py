"""Serving stored attachments, one way for every route: headers that never let a file run as a page."""

from flask import Response, current_app, send_from_directory

from models import Attachment

# raster images a browser may show inline; anything else is a download
INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def send_attachment(stored: Attachment, private: bool = True, max_age: int = 86400) -> Response:
    """The file of `stored`: staff and visitors get it `private`; a platform fetching our
    signed media link (Viber) gets it as it is, with its own type."""
    inline = stored.content_type in INLINE_TYPES or not private
    response = send_from_directory(
        current_app.config["UPLOAD_DIR"],
        stored.storage_path,
        mimetype=stored.content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=stored.filename,
        max_age=max_age,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if private:
        response.cache_control.private = True
        response.cache_control.public = False
    return response
