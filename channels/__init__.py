"""Channel adapters, one module per platform, looked up by the channel's kind."""

from channels.base import Adapter, PermanentError
from channels.widget import WidgetAdapter

ADAPTERS: dict[str, Adapter] = {adapter.kind: adapter for adapter in (WidgetAdapter(),)}


def get_adapter(kind: str) -> Adapter:
    """The adapter for a channel kind; PermanentError when no adapter can send through it yet."""
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise PermanentError(f"No adapter sends through {kind} channels yet.")
    return adapter
