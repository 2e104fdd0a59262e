"""`batch-service`: the command-line client of the essay orchestrator's HTTP API.

It talks to the API over HTTP only (never to Temporal, the broker or the content store), so it
works against any deployment the user can reach, and imports nothing from the server's code.

- `app`: the `batch-service` command; `commands/`: one module per command (typer).
- `options`: the connection options every command shares; `output`: stdout, stderr, exit codes.
- `api_client`: one HTTP client with the key, retries on 429/503, and clear errors.
- `essay_files`: reading `.txt` essays and turning file names into essay ids.
- `pages`: splitting a batch's essays into requests within the API's limits.
- `upload`: creating a batch page by page and triggering it.
- `follow`: a batch's progress behind bars (from its events), or polled into a live view.
- `events`: following a batch's event stream, reconnecting where it left off; `sse`: reading
  server-sent events.
- `render`: how statuses and summaries look on a terminal.
- `errors`: the error every command reports, and the exit codes.
"""
