"""Logging in, with a limit on failed attempts, and the staff's own preferences."""

from flask import current_app
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import func, select

from extensions import db
from models import User
from services.db import begin_write
from services.errors import ActionError
from services.redis import get_redis


def _fail_key(email: str, address: str) -> str:
    return f"okno:login-fail:{email}:{address}"


def authenticate(email: str, password: str, address: str) -> User:
    """The user with this e-mail and password; ActionError when wrong or rate-limited.

    Failed attempts are counted per e-mail and address in Redis; with Redis down the
    login still works (the limit is a guard, not a gate keeper of the inbox).
    """
    email = (email or "").strip().lower()
    key = _fail_key(email, address)
    limit = current_app.config["LOGIN_FAIL_LIMIT"]
    redis = get_redis()
    try:
        failures = int(redis.get(key) or 0)
    except RedisError:
        failures = 0
    if failures >= limit:
        raise ActionError(_("Too many failed attempts. Try again in a few minutes."))
    user = db.session.scalars(select(User).where(func.lower(User.email) == email)).first()
    if user is None or not user.check_password(password or "") or not user.active:
        try:
            pipe = redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, current_app.config["LOGIN_FAIL_WINDOW"])
            pipe.execute()
        except RedisError:
            pass
        raise ActionError(_("Wrong e-mail or password."))
    try:
        redis.delete(key)
    except RedisError:
        pass
    return user


def set_preferences(user_id: int, language: str | None = None, sound_on: bool | None = None) -> None:
    begin_write()
    user = db.session.get(User, user_id)
    if language is not None and language in current_app.config["LANGUAGES"]:
        user.language = language
    if sound_on is not None:
        user.sound_on = sound_on
    db.session.commit()


def create_user(email: str, name: str, password: str, role: str) -> User:
    from models import ROLES

    email = (email or "").strip().lower()
    if role not in ROLES:
        raise ActionError(_("Unknown role."))
    if "@" not in email:
        raise ActionError(_("Enter a valid e-mail address."))
    if len(password or "") < 8:
        raise ActionError(_("The password needs at least 8 characters."))
    begin_write()
    if db.session.scalars(select(User).where(func.lower(User.email) == email)).first():
        raise ActionError(_("A user with this e-mail already exists."))
    user = User(email=email, name=(name or email.split("@")[0]).strip(), role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user
