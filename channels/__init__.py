"""Channel adapters, one module per platform (channels/<kind>.py exposing `adapter`)."""

import importlib

from channels.base import Adapter, PermanentError

KINDS = ("widget", "telegram", "whatsapp", "viber", "vk", "instagram")

# adapters loaded so far, by kind (modules are imported on first use)
ADAPTERS: dict[str, Adapter] = {}


def get_adapter(kind: str) -> Adapter:
    """The adapter for a channel kind; PermanentError when no adapter can serve it."""
    adapter = ADAPTERS.get(kind)
    if adapter is not None:
        return adapter
    if kind not in KINDS:
        raise PermanentError(f"No adapter serves {kind} channels.")
    try:
        module = importlib.import_module(f"channels.{kind}")
    except ModuleNotFoundError as exc:
        raise PermanentError(f"No adapter serves {kind} channels yet.") from exc
    ADAPTERS[kind] = module.adapter
    return module.adapter
