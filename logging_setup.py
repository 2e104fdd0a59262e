"""One logging configuration for the API and the worker."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiokafka logs every failed reconnect at ERROR; during an outage that is noise, since the
    # activity's own failure (with its attempt count) already says what is happening.
    logging.getLogger("aiokafka").setLevel(max(logging.getLevelName(level), logging.WARNING))
