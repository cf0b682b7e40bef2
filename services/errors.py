"""Errors a write path raises for the view to show; the message is already translated."""


class ActionError(ValueError):
    """The action can't be done as asked (shown to the user next to the control)."""
