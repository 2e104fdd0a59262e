"""The HTTP API (Quart, served by Hypercorn): accepts essays and starts their workflows.

- `app.create_app`: the factory (`hypercorn "api.app:create_app()" -c hypercorn_config.py`).
- `essays/`: single essays. `batches/`: batches. `service/`: health, readiness, the API
  document. Each holds its routes, their models and how it reads status.
- `http/`: what every request goes through (bodies, errors, correlation and idempotency).
- `access/`: API keys, rate limits, and which workflows are a client's own.
- `temporal`: the app's Temporal client and settings; `status_cache`: batch status answers;
  `metrics`: the API's Prometheus metrics.
"""
