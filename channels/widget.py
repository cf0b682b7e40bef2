"""The salon's own website widget. Sending is a realtime event on the visitor's own stream."""

from redis.exceptions import RedisError

from channels.base import Adapter, ChannelRef, OutboundMessage, SendResult, TemporaryError
from services import realtime


class WidgetAdapter(Adapter):
    kind = "widget"
    supports_reply_to = True

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        """Tell the visitor's open widget to fetch the reply; delivered at once.

        A visitor without an open widget reads the reply from their history next time,
        so there is nobody to wait for; only a Redis outage makes it worth trying again.
        """
        try:
            realtime.send_event(
                realtime.visitor_channel(message.contact_id),
                "message.created",
                {"conversation_id": message.conversation_id, "message_id": message.message_id},
            )
        except RedisError as exc:
            raise TemporaryError(f"Realtime unavailable: {exc.__class__.__name__}") from exc
        return SendResult(external_id=f"widget-{message.message_id}", status="delivered")


adapter = WidgetAdapter()
