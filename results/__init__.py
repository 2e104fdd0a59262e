"""The results consumer: reads the spell checker's results and tells each essay's workflow, or
its batch chunk, by signal. Its own process (`python -m results`)."""
