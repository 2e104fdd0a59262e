"""Hypercorn settings for the API: the bind address from HOST and PORT.

This file is read by Hypercorn's supervising process, which only forwards signals to the one
serving process. It reads the two variables itself rather than importing `settings` (pydantic):
that import alone costs the supervisor about 13 MB of memory. The serving process still reads
and validates every setting, PORT and HOST included, through `settings.get_settings()`.
"""

import os

_host = os.environ.get("HOST", "0.0.0.0")
_port = os.environ.get("PORT", "5000")
if not _port.isdigit() or not 1 <= int(_port) <= 65535:
    raise SystemExit(f"invalid setting PORT: must be a port number (got {_port!r})")

bind = [f"{_host}:{_port}"]
# Requests are short (a workflow start); a long keep-alive only holds sockets open.
keep_alive_timeout = 5
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
