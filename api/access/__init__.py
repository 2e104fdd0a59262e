"""Who may do what: API keys (`auth`), the per-client rate limit, and which workflows are a
client's own (`owners`)."""
