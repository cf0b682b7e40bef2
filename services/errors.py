"""Errors a write path raises for the view to show; the message is already translated."""


class ActionError(ValueError):
    """The action can't be done as asked (shown to the user next to the control)."""

    status = 422  # the HTTP answer a page gets with it


class FieldError(ActionError):
    """An ActionError about one input of a form: `field` is the input's name."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
