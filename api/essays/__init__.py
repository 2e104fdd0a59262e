"""Single essays: `POST /v1/trigger-spellcheck` and `GET /v1/essays/<id>/status`.

- `routes`: the handlers, and their request and response models
- `start`: starting an essay's workflow
- `status`: reading an essay's status from its workflow
"""
