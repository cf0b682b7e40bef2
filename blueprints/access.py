"""Access rules, named for what they check. htmx and stream callers get status codes."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

__all__ = ["login_required", "may_chat", "owner_required"]


def may_chat(view):
    """Logged in, and the user's role may use the chat (the owner decides which)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.may_chat:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def owner_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != "owner":
            abort(403)
        return view(*args, **kwargs)

    return wrapped
