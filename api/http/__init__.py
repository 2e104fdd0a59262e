"""How every request is handled, whatever its route: strict JSON bodies and ids, the error
shape, correlation ids, idempotency keys, the access log, draining unread bodies, and noticing
that the API is stopping (so long answers end)."""
