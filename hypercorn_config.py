"""Hypercorn settings for the API: one process, the bind address from HOST and PORT.

`workers = 0` serves in the process Hypercorn starts in, without its supervisor. That is what
makes SIGTERM drain cleanly: the serving process gets the signal itself, closes its listening
socket at once (new connections are refused, so a load balancer or client retries elsewhere)
and answers the requests already in flight, for up to `graceful_timeout`. Under a supervisor
the supervisor keeps the listening socket open until its worker exits, so connections made
during the drain are accepted and then reset; and a SIGTERM sent to the whole process group
(as `make dev` stops a piece) kills the worker without any drain (tests/shutdown/).

HOST and PORT are read here rather than through `settings` (pydantic), which this file need not
import; the app still reads and validates every setting, PORT and HOST included, through
`settings.get_settings()`.
"""

import logging
import os

from api.http.access_log import AccessLog

_host = os.environ.get("HOST", "0.0.0.0")
_port = os.environ.get("PORT", "5000")
if not _port.isdigit() or not 1 <= int(_port) <= 65535:
    raise SystemExit(f"invalid setting PORT: must be a port number (got {_port!r})")

bind = [f"{_host}:{_port}"]
# In-process (see above); without the supervisor and multiprocessing's resource tracker the
# API also needs less memory.
workers = 0
# Idle connections stay open longer than the idle timeout of the load balancers usually put in
# front (60 s for the common cloud ones). A backend that closes first races the balancer, which
# can send a request on a connection just as the API closes it, and its client gets a 502. A
# client that reconnects also costs the API a connection's setup, as much CPU as a whole
# request. An idle connection holds only a socket and its buffers; on SIGTERM
# Hypercorn closes idle ones at once, so a drain does not wait for them.
keep_alive_timeout = 75
# On SIGTERM, how long requests in flight may take to be answered. A request waits at most
# TEMPORAL_RPC_TIMEOUT_S (5 s) on each call to Temporal, and a batch request makes a few.
graceful_timeout = 10
# libuv's event loop: less CPU per request than asyncio's default loop.
worker_class = "uvloop"
# Hypercorn's lines go through the app's logging (logging_setup.py: JSON by default); the access
# line is ours, with its parts as fields and the request's correlation id. One line per request
# whatever LOG_LEVEL says, as Hypercorn's own access log did.
accesslog = logging.getLogger("hypercorn.access")
accesslog.setLevel(logging.INFO)
errorlog = logging.getLogger("hypercorn.error")
logger_class = AccessLog
