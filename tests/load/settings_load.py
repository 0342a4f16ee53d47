"""Settings for the service `make load` starts (tests/load/run_load.py).

The production settings (`backend.settings`: DEBUG off unless set, secrets required from
the environment), with one difference: the URLs also serve the stock twin of the entries
endpoints under /api/stock/ (tests/load/urls.py), so that both are measured in the same
run on the same processes. Nothing in production imports this module.
"""

from backend.settings import *  # noqa: F403

ROOT_URLCONF = "tests.load.urls"
