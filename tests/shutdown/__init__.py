"""Graceful shutdown: the API and the worker stopped with SIGTERM, as a deploy stops them."""
