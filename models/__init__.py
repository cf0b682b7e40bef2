"""All models, importable from one place."""

from models.channels import CHANNEL_KINDS, Channel, Contact
from models.clients import (
    CATEGORIES,
    FIELD_KINDS,
    VISIT_STATUSES,
    Client,
    ClientPhone,
    CustomField,
    CustomFieldValue,
    Visit,
)
from models.conversations import (
    CONVERSATION_STATES,
    Comment,
    Conversation,
    Session,
    Tag,
    conversation_tags,
    session_tags,
)
from models.messages import (
    DELIVERY_STATUSES,
    DIRECTIONS,
    KINDS,
    Attachment,
    Message,
    MessageRevision,
    Template,
)
from models.staff import ROLES, RolePermission, Salon, User, role_may_chat

__all__ = [
    "CATEGORIES",
    "CHANNEL_KINDS",
    "CONVERSATION_STATES",
    "DELIVERY_STATUSES",
    "DIRECTIONS",
    "FIELD_KINDS",
    "KINDS",
    "ROLES",
    "VISIT_STATUSES",
    "Attachment",
    "Channel",
    "Client",
    "ClientPhone",
    "Comment",
    "Contact",
    "Conversation",
    "CustomField",
    "CustomFieldValue",
    "Message",
    "MessageRevision",
    "RolePermission",
    "Salon",
    "Session",
    "Tag",
    "Template",
    "User",
    "Visit",
    "conversation_tags",
    "role_may_chat",
    "session_tags",
]
