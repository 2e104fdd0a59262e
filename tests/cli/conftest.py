from tests.cli.fixtures import api_url, essay_folder  # noqa: F401  (fixtures)
from tests.stack import stack  # noqa: F401  (the fixture)
