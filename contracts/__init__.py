"""The contracts the API, the workflows and the activities share: workflow inputs, statuses and
ids, the activity names and their inputs, and the Kafka event. Pydantic and the standard library
only, no I/O: any process (the API, a worker, a consumer, a test) imports them cheaply.

- `essay`: the single-essay workflow's input, status and steps' inputs
- `batch`: the batch parent's and its chunks' inputs, statuses and commands
- `events`: the `essay.spellcheck.requested.v1` event
- `ids`: workflow ids derived from client ids, and the search attributes
"""
