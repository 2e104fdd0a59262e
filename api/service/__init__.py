"""The service's own routes: `/healthz`, `/readyz`, and the API document (`/openapi.json`,
`/docs`)."""
