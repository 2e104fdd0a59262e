"""The fault suite: the real stack with one part broken mid-run, then counted.

- `stack`: every piece as a process that can be stopped, killed (SIGKILL) and restarted.
- `load`: single essays and batches sent like a patient client (a 503 is sent again).
- `counter`: a consumer that reads the topic throughout, across broker restarts.
- `scenario`: the run around a fault: background load, conditions, deadline.
- `verdict` and `report`: the counts, the checks and the table.
- `test_*`: one scenario each (broker, content store, worker kills, Temporal).
"""
