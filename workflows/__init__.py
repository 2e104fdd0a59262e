"""Temporal workflows of the essay orchestrator (their inputs and statuses are in `contracts`).

- `essay.EssayWorkflow` (`essay-{essay_id}`): store one essay's text, then publish its
  `essay.spellcheck.requested.v1` event.
- `batch.BatchWorkflow` (`batch-{batch_id}`): a batch's parent; takes pages, is triggered or
  cancelled, and tells its chunks.
- `chunk.ChunkWorkflow` (`batch-{batch_id}/{page}.{i}`): up to a chunk's essays of one page;
  stores them, waits for its batch's command, publishes or cancels.
- `policies`: the durable retry policy and its backoff formula.
"""
