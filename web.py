"""What every page shares: the user loader, error pages, template helpers."""

from datetime import UTC, date, datetime, timedelta

from babel import dates as babel_dates
from flask import Flask, g, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale, get_timezone, get_translations
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


class _UserDates:
    """The user's locale and timezone, today's date there and the dates formatted so far.

    Made once per request (web.py's filters ask for it): a list of 50 rows, a dialog of 100
    messages would otherwise look the locale and the timezone up, and have Babel format the
    same day, once per row."""

    def __init__(self, locale, tz) -> None:
        self.key = (locale, tz)
        self.locale, self.tz = locale, tz
        self.today = utcnow().astimezone(tz).date()
        self.formatted: dict[tuple[str, date], str] = {}

    def local(self, value: datetime) -> datetime:
        """`value` in the user's timezone (naive values are UTC), as to_user_timezone gives it."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.tz)

    def format_date(self, day: date, pattern: str) -> str:
        key = (pattern, day)
        if key not in self.formatted:
            self.formatted[key] = babel_dates.format_date(day, pattern, locale=self.locale)
        return self.formatted[key]


def _user_dates() -> _UserDates:
    key = (get_locale(), get_timezone())
    dates = g.get("user_dates")
    if dates is None or dates.key != key:  # a new request, or a forced locale inside one
        dates = g.user_dates = _UserDates(*key)
    return dates


def short_time(value: datetime | None) -> str:
    """12:03 today, else 24 Nov (this year), else 24.11.2025: as a list row shows time."""
    if value is None:
        return ""
    dates = _user_dates()
    local = dates.local(value)
    if local.date() == dates.today:
        return local.strftime("%H:%M")  # Babel's "HH:mm"
    if local.year == dates.today.year:
        return dates.format_date(local.date(), "d MMM")
    return dates.format_date(local.date(), "dd.MM.yyyy")


def clock_time(value: datetime | None) -> str:
    """12:03 in the user's timezone (Babel's "HH:mm")."""
    return _user_dates().local(value).strftime("%H:%M") if value else ""


def day_label(value: datetime) -> str:
    dates = _user_dates()
    local = dates.local(value).date()
    if local == dates.today:
        return _("Today")
    if local == dates.today - timedelta(days=1):
        return _("Yesterday")
    return dates.format_date(local, "d MMMM yyyy")


def local_date(value: datetime) -> date:
    return _user_dates().local(value).date()


def format_when(value: datetime | None, pattern: str = "medium") -> str:
    """`value` in the user's timezone and language, a Babel pattern or a named format."""
    if not value:
        return ""
    if pattern in ("short", "medium", "long", "full"):
        return format_datetime(value, pattern)  # Flask-Babel knows the app's named formats
    dates = _user_dates()
    return babel_dates.format_datetime(value, pattern, tzinfo=dates.tz, locale=dates.locale)


def _translations():
    """The request's catalog for templates, looked up once per locale (a page asks for a few
    hundred strings; Flask-Babel finds the catalog again for each)."""
    locale = get_locale()
    cached = g.get("jinja_translations")
    if cached is None or cached[0] is not locale:
        cached = g.jinja_translations = (locale, get_translations())
    return cached[1]


def init_web(app: Flask) -> None:
    app.jinja_env.filters.update(
        short_time=short_time,
        day_label=day_label,
        local_date=local_date,
        phone=format_phone,
        badge=badge,
        datetime=format_when,
        time=clock_time,
    )
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
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
