"""The write paths: the only code that changes state."""
