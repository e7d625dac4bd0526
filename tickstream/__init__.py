"""tickstream: a self-hostable real-time market platform."""

__version__ = "0.1.0"
