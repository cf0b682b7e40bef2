"""Transaction helpers shared by every write path."""

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from extensions import db


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
    session.connection(execution_options={"sqlite_immediate": True})
    session.info["immediate"] = True


@event.listens_for(OrmSession, "after_transaction_end")
def _clear_immediate(session, transaction):
    if transaction.parent is None:
        session.info.pop("immediate", None)
