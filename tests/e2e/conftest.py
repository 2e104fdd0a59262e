from tests.stack import stack  # noqa: F401  (the fixture)
