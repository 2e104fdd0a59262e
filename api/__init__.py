"""The HTTP API (Quart, served by Hypercorn): accepts essays and starts their workflows.

- `app.create_app`: the factory (`hypercorn "api.app:create_app()" -c hypercorn_config.py`).
- `essays`: `POST /v1/trigger-spellcheck`, `GET /v1/essays/<essay_id>/status`.
- `health`: `GET /healthz` (liveness) and `GET /readyz` (readiness, `readiness`).
- `auth`: API keys (`keys`) and rate limits (`rate_limit`) before every other route.
- `owners`: a batch or essay belongs to the client that created it.
- `errors`: every error is JSON `{"error", "details"}` with the right status code.
- `bodies`: reading and validating JSON request bodies.
- `correlation`: the `X-Correlation-ID` of each request.
"""
