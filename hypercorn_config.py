"""Hypercorn settings for the API, read from the same environment as the app (HOST, PORT)."""

from settings import get_settings

_settings = get_settings()

bind = [f"{_settings.host}:{_settings.port}"]
# Requests are short (a workflow start); a long keep-alive only holds sockets open.
keep_alive_timeout = 5
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
