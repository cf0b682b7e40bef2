"""list, all-states and counts indexes on conversations

Each list tab reads its page straight from an index in last-activity order (with_bot
is part of the key, so "With admin" and "With bot" are separate ranges); All and Spam,
which name no state, get their own; the header counts read a covering index. They
replace ix_conversations_state_activity, which left every "All" page and the counts
to a sort or a table scan. Indexes only: batch mode creates them in place, the table
(and the messages FTS triggers) are untouched.

Revision ID: 0f57ea02fcca
Revises: cbcf6fdb2422
Create Date: 2026-11-26 11:22:28.428144

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0f57ea02fcca"
down_revision = "cbcf6fdb2422"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_state_activity")
        batch_op.create_index(
            "ix_conversations_counts",
            ["is_spam", "with_bot", "state", "assignee_id", "unread_count"],
            unique=False,
        )
        batch_op.create_index(
            "ix_conversations_list", ["is_spam", "with_bot", "state", "last_activity_at"], unique=False
        )
        batch_op.create_index(
            "ix_conversations_list_all", ["is_spam", "with_bot", "last_activity_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_list_all")
        batch_op.drop_index("ix_conversations_list")
        batch_op.drop_index("ix_conversations_counts")
        batch_op.create_index(
            "ix_conversations_state_activity", ["is_spam", "state", "last_activity_at"], unique=False
        )
