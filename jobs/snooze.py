"""wake_conversation(id): a snoozed conversation's time came."""

from werkzeug.exceptions import NotFound

from jobs import with_app
from services import conversations


@with_app
def wake_conversation(conversation_id: int) -> bool:
    """Back to Open if it is still snoozed and its time came (a later snooze has its own job)."""
    try:
        return conversations.wake_conversation(conversation_id)
    except NotFound:
        return False
