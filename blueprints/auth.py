"""Log in, log out, and the user's own preferences (language, sound)."""

from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from services import auth
from services.errors import ActionError

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another host.

    Browsers read a backslash as a slash and drop tabs and newlines, so "/\\evil.com"
    and "/<tab>/evil.com" mean //evil.com; a newline would also break the header.
    """
    if target and not any(ch < " " or ch in "\\\x7f" for ch in target):
        parts = urlsplit(target)
        if target.startswith("/") and not target.startswith("//") and not (parts.scheme or parts.netloc):
            return target
    return home_url()


def home_url() -> str:
    """The logged-in user's start page: the inbox, or a page saying the chat isn't theirs."""
    return url_for("inbox.index") if current_user.may_chat else url_for("auth.no_chat")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        try:
            user = auth.authenticate(email, request.form.get("password", ""), request.remote_addr or "")
        except ActionError as exc:
            error = str(exc)
        else:
            login_user(user, remember=True)
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if error is None else 401
    return render_template("auth/login.html", error=error, email=email), status


@bp.get("/welcome")
@login_required
def no_chat():
    """Where a role without chat access lands after logging in (instead of a 403 page)."""
    if current_user.may_chat:
        return redirect(url_for("inbox.index"))
    return render_template("auth/no_chat.html")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.post("/preferences")
@login_required
def preferences():
    language = request.form.get("language")
    sound = request.form.get("sound_on")
    auth.set_preferences(
        current_user.id,
        language=language,
        sound_on=None if sound is None else sound == "1",
    )
    if request.headers.get("HX-Request"):
        if language is None and sound is not None:  # the header's sound switch, swapped in place
            return render_template("_sound_toggle.html")
        response = make_response("", 204)
        response.headers["HX-Refresh"] = "true"
        return response
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/language")
def language():
    """Language choice on the login page, before anyone is logged in."""
    response = make_response(redirect(url_for("auth.login")))
    chosen = request.form.get("language")
    if chosen in ("ru", "uk", "en"):
        response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
