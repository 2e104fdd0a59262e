"""Hypercorn settings for the API: the bind address from HOST and PORT.

Hypercorn reads this file before it loads the app. The app still reads and validates every
setting, PORT and HOST included, through `settings.get_settings()`; this file checks PORT only so
that a bad value fails before the socket is bound.
"""

import logging
import os

from api.access_log import AccessLog

_host = os.environ.get("HOST", "0.0.0.0")
_port = os.environ.get("PORT", "5000")
if not _port.isdigit() or not 1 <= int(_port) <= 65535:
    raise SystemExit(f"invalid setting PORT: must be a port number (got {_port!r})")

bind = [f"{_host}:{_port}"]
# Requests are short (a workflow start); a long keep-alive only holds sockets open.
keep_alive_timeout = 5
graceful_timeout = 10
# Serve in this process: Hypercorn's supervisor (workers >= 1) only forwards signals to one
# serving process, and with multiprocessing's resource tracker it cost about 55 MB of memory.
# SIGTERM and SIGINT still drain in-flight requests for up to `graceful_timeout`.
workers = 0
# libuv's event loop: less CPU per request than asyncio's default loop.
worker_class = "uvloop"
# Hypercorn's lines go through the app's logging (logging_setup.py: JSON by default); the access
# line is ours, with its parts as fields and the request's correlation id. One line per request
# whatever LOG_LEVEL says, as Hypercorn's own access log did.
accesslog = logging.getLogger("hypercorn.access")
accesslog.setLevel(logging.INFO)
errorlog = logging.getLogger("hypercorn.error")
logger_class = AccessLog
