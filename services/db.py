"""Transaction helpers shared by every write path."""

from functools import wraps

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from werkzeug.exceptions import NotFound

from extensions import db
from services.errors import ActionError


def begin_write() -> None:
    """Start a write transaction that holds SQLite's write lock from its first statement.

    A deferred SQLite transaction that reads and then writes fails at once with
    "database is locked" when another writer got in between; BEGIN IMMEDIATE waits
    for the lock instead (busy_timeout). Any read snapshot the request held is ended
    first, so objects loaded before are re-read under the lock. PostgreSQL ignores
    the option.
    """
    session = db.session()  # the scoped_session proxy has no in_transaction()
    if session.info.get("immediate"):
        return
    if session.in_transaction():
        session.commit()
    # whatever was loaded before, in that snapshot or kept by commit_as_written, is read again
    session.expire_all()
    session.connection(execution_options={"sqlite_immediate": True})
    session.info["immediate"] = True


def commit_as_written() -> None:
    """Commit, keeping the loaded objects as this transaction wrote them.

    For a caller that answers with what it just stored (the widget shows the visitor's own
    message back): a plain commit expires every object, and reading them again costs a
    query each. Attributes set to SQL expressions are expired by the flush all the same,
    and begin_write expires everything before the next write, so nothing stale is written.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


@event.listens_for(OrmSession, "after_transaction_end")
def _clear_immediate(session, transaction):
    if transaction.parent is None:
        session.info.pop("immediate", None)


def refusals_roll_back(func):
    """A refused write leaves nothing half-done behind (and releases SQLite's write lock)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ActionError, NotFound):
            db.session.rollback()
            raise

    return wrapper


def get_or_404(model, ident):
    """The row with this primary key, or NotFound (a 404 for the view)."""
    obj = db.session.get(model, ident)
    if obj is None:
        raise NotFound()
    return obj
