"""What every page shares: the user loader, error pages, template helpers."""

from datetime import datetime, timedelta

from flask import Flask, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_time, to_user_timezone
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from extensions import db, login_manager
from models import User
from models.base import utcnow
from services.errors import ActionError
from services.inbox import badge
from services.inbox import header_counts as inbox_header_counts
from services.salon import get_salon
from services.text import format_phone


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


@login_manager.unauthorized_handler
def unauthorized():
    if request.headers.get("HX-Request") or request.accept_mimetypes.best == "text/event-stream":
        return _("Please log in."), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def wants_fragment() -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def short_time(value: datetime | None) -> str:
    """12:03 today, else 24 Nov (this year), else 24.11.2025: as a list row shows time."""
    if value is None:
        return ""
    local = to_user_timezone(value)
    now = to_user_timezone(utcnow())
    if local.date() == now.date():
        return format_time(value, "HH:mm")
    if local.year == now.year:
        return format_date(value, "d MMM")
    return format_date(value, "dd.MM.yyyy")


def day_label(value: datetime) -> str:
    local = to_user_timezone(value).date()
    today = to_user_timezone(utcnow()).date()
    if local == today:
        return _("Today")
    if local == today - timedelta(days=1):
        return _("Yesterday")
    return format_date(value, "d MMMM yyyy")


def local_date(value: datetime):
    return to_user_timezone(value).date()


def init_web(app: Flask) -> None:
    app.jinja_env.filters.update(
        short_time=short_time,
        day_label=day_label,
        local_date=local_date,
        phone=format_phone,
        badge=badge,
        datetime=lambda v, f="medium": format_datetime(v, f) if v else "",
        time=lambda v: format_time(v, "HH:mm") if v else "",
    )
    app.jinja_env.add_extension("jinja2.ext.loopcontrols")

    @app.context_processor
    def shared():
        def header_counts():
            from flask import g

            if "header_counts" not in g:
                g.header_counts = inbox_header_counts(current_user)
            return g.header_counts

        return {
            "salon": get_salon(),
            "wants_fragment": wants_fragment,
            "current_language": current_language,
            "header_counts": header_counts,
        }

    @app.errorhandler(ActionError)
    def action_error(exc):
        # a refused file says which refusal it is (413 too large, 415 wrong type), like the widget's
        if wants_fragment():
            return _flash_response(str(exc), exc.status)
        return render_template("errors/error.html", code=exc.status, message=str(exc)), exc.status

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        message = _("The form has expired or was sent from elsewhere. Reload the page and try again.")
        return _error_response(400, message)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        messages = {
            400: _("The request could not be understood."),
            403: _("You don't have access to this page."),
            404: _("Nothing here: the page or the record doesn't exist."),
            405: _("This action isn't allowed here."),
            413: _("The file is too large."),
        }
        return _error_response(exc.code or 500, messages.get(exc.code, exc.description))

    @app.errorhandler(Exception)
    def server_error(exc):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return _error_response(500, _("Something went wrong on our side. Try again in a moment."))

    @app.after_request
    def vary_on_htmx(response):
        response.vary.add("HX-Request")
        return response


def _error_response(code: int, message: str):
    if request.path.startswith(("/webhooks/", "/healthz")) or request.is_json:
        return jsonify(error=message), code
    if wants_fragment():
        return _flash_response(message, code)
    return render_template("errors/error.html", code=code, message=message), code


def _flash_response(message: str, code: int):
    """The message into #flash (out of band); HX-Reswap keeps the request's target as it was."""
    return render_template("errors/_flash.html", message=message), code, {"HX-Reswap": "none"}


def current_language() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "ru")


__all__ = ["current_user", "init_web", "wants_fragment"]
