"""Extension objects, created unbound; create_app() binds them."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from models.base import db


def _include_object(obj, name, type_, reflected, compare_to):
    """Alembic leaves the full-text index alone: its migration manages it by hand."""
    return not (type_ == "table" and name and name.startswith("messages_fts"))


migrate = Migrate(render_as_batch=True, compare_type=True, include_object=_include_object)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

__all__ = ["babel", "csrf", "db", "login_manager", "migrate"]
