"""Temporal workflows of the essay orchestrator.

- `essay.EssayWorkflow` (`essay-{essay_id}`): store one essay's text, then publish its
  `essay.spellcheck.requested.v1` event.
- `models`: the workflows' inputs, outputs and query answers (no I/O imports).
- `events`: the Kafka event contract shared with the API and the activities.
"""
