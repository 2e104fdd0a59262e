"""The whole system on one machine, without Docker.

`python -m devstack` (what `make dev` runs) starts the Temporal dev server, the embedded
Kafka-compatible broker (Tansu), the content store, the worker and the HTTP API, each in its own
process group with its output in `.state/logs/`, then supervises them until Ctrl-C.

:mod:`devstack.components` holds the reusable pieces (free ports, waiting for a port, a managed
process, the command lines of each server); the test suite uses it to start real servers on free
loopback ports.
"""
