"""Batches: create, add pages, trigger, cancel, status.

- `routes`: the handlers
- `pages`: a page's request models, and how it is cut into chunks
- `status`: reading a batch's status from its parent and chunks
- `updates`: the parent's updates (add a page, trigger, cancel), retried and refused in words
- `paging`: the status's `offset` and `limit`
"""
