"""What operators watch besides the logs.

- `backlog`: essays accepted but not yet published, measured from Temporal's visibility store
  by every worker and served as gauges on the worker's metrics endpoint.

The API's metrics live in `api/metrics.py`, the activities' counters in `activities/metrics.py`,
and the worker's runtime (the SDK's own metrics) in `temporal_client.build_runtime`.
"""
