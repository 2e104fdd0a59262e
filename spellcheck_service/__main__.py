"""`python -m spellcheck_service`: serve the embedded spell checker until SIGTERM or Ctrl-C.

It reads the settings the worker reads: KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC (the requests),
KAFKA_RESULTS_TOPIC (its results), CONTENT_SERVICE_URL, LOG_LEVEL and LOG_FORMAT."""

from __future__ import annotations

from serving import run_until_signalled, start_process
from spellcheck_service.service import serve


def main() -> None:
    settings = start_process("spellchecker")

    run_until_signalled(
        lambda stop: serve(
            settings.kafka_bootstrap_servers,
            settings.kafka_topic,
            settings.content_service_url,
            stop,
            settings.kafka_results_topic,
        )
    )


if __name__ == "__main__":
    main()
