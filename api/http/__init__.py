"""How every request is handled, whatever its route: strict JSON bodies and ids, the error
shape, correlation ids, idempotency keys, the access log, and draining on shutdown."""
