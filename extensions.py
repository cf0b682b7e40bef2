"""Extension objects, created unbound; create_app() binds them."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from models.base import db


def _include_object(obj, name, type_, reflected, compare_to):
    """Alembic leaves the full-text index alone: its migration manages it by hand."""
    return not (type_ == "table" and name and name.startswith("messages_fts"))


def init_migrations(app) -> None:
    """`flask db` (Alembic via Flask-Migrate), for the command line and the tests.

    Imported here, not at the top: a serving or queue-working process never migrates, and
    Alembic with Mako costs each worker about 11 MB it would carry all day.
    """
    from flask_migrate import Migrate

    Migrate(render_as_batch=True, compare_type=True, include_object=_include_object).init_app(
        app, db, directory=app.root_path + "/migrations"
    )


login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

__all__ = ["babel", "csrf", "db", "init_migrations", "login_manager"]
