"""Settings from the environment, with defaults that work on a fresh machine."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("OKNO_INSTANCE", BASE_DIR / "instance"))


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'okno.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")
    SALON_TIMEZONE = os.environ.get("SALON_TIMEZONE", "Europe/Moscow")
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "RU")
    UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", INSTANCE_DIR / "uploads"))
    # uploads (widget visitors, the staff composer): size cap and the types taken, checked by content
    MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024))
    ALLOWED_UPLOAD_TYPES = tuple(
        t.strip() for t in os.environ.get("ALLOWED_UPLOAD_TYPES", "").split(",") if t.strip()
    ) or (
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    )
    # website widget: posts per visitor token, and new visitor sessions per address, per minute
    WIDGET_POSTS_PER_MINUTE = int(os.environ.get("WIDGET_POSTS_PER_MINUTE", 20))
    WIDGET_SESSIONS_PER_MINUTE = int(os.environ.get("WIDGET_SESSIONS_PER_MINUTE", 30))

    # An inbox tab stays open all day: CSRF tokens live as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)

    LANGUAGES = ("ru", "uk", "en")
    BABEL_DEFAULT_LOCALE = "ru"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    # Failed logins allowed per e-mail + address in LOGIN_FAIL_WINDOW seconds.
    LOGIN_FAIL_LIMIT = int(os.environ.get("LOGIN_FAIL_LIMIT", 5))
    LOGIN_FAIL_WINDOW = int(os.environ.get("LOGIN_FAIL_WINDOW", 300))

    PAGE_SIZE = 50

    # Each platform's API base URL: tests and staging point these at a local stand-in.
    TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org")
    WHATSAPP_API_URL = os.environ.get("WHATSAPP_API_URL", "https://graph.facebook.com/v21.0")
    INSTAGRAM_API_URL = os.environ.get("INSTAGRAM_API_URL", "https://graph.facebook.com/v21.0")
    VIBER_API_URL = os.environ.get("VIBER_API_URL", "https://chatapi.viber.com/pa")
    VK_API_URL = os.environ.get("VK_API_URL", "https://api.vk.com/method")
