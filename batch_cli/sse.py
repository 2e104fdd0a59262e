"""Reading server-sent events (the `text/event-stream` format, as the HTML standard defines it)
from a stream's lines; what `GET /v1/batch/{id}/events` sends.

Fed one line at a time (without its line ending: httpx's `iter_lines` splits on CR, LF and
CRLF alike), `EventReader` returns an event at the blank line that ends it. Comment lines
(`: keep-alive`) are counted, never returned; `retry` and unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    event: str  # its type: "message" unless the stream named one
    data: str  # its data lines, joined with "\n"
    id: str | None  # the last id the stream gave, at this event (ids carry over)


class EventReader:
    def __init__(self) -> None:
        self.last_id: str | None = None
        self.comments = 0
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        """The event this line completes, if it is the blank line ending one."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self.last_id = value
        return None

    def _dispatch(self) -> Event | None:
        event, data = self._event, self._data
        self._event, self._data = "", []
        if not data:  # no data: nothing is dispatched (an id alone still counts)
            return None
        return Event(event or "message", "\n".join(data), self.last_id)


def read_events(lines: Iterable[str], reader: EventReader | None = None) -> Iterator[Event]:
    """Every complete event in `lines`; one cut off by the stream's end is dropped."""
    reader = reader or EventReader()
    for line in lines:
        event = reader.feed(line)
        if event is not None:
            yield event
