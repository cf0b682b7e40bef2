"""System events: the staff-visible record of who did what and when."""

from datetime import datetime

from extensions import db
from models import Conversation, Message, User
from models.base import utcnow


def record_event(
    conversation: Conversation,
    actor: User | None,
    event: str,
    at: datetime | None = None,
    **data,
) -> Message:
    """Add an event row to the dialog and bump the conversation's activity.

    `data` keeps names as they were at the time (an assignee renamed later still
    reads right in old history). Rendered in the reader's language by the template.
    """
    at = at or utcnow()
    if actor is not None:
        data.setdefault("actor", actor.name)
    message = Message(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id,
        channel_id=conversation.channel_id,
        direction="event",
        kind="text",
        event=event,
        data=data,
        author_id=actor.id if actor else None,
        created_at=at,
    )
    db.session.add(message)
    conversation.last_activity_at = at
    return message
