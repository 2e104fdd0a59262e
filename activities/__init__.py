"""Temporal activities: every side effect of the orchestrator lives here.

- `content.ContentActivities`: store an essay's text in the Content Service (httpx).
- `events.EventActivities`: publish the spellcheck-requested event (aiokafka).
- `kafka.KafkaPublisher`: the worker's one producer, started lazily so a broker that is down
  at start-up only delays publishing.

Activities receive their clients; they never create one per call.
"""
