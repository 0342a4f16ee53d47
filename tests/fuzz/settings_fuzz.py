"""Settings for the service `make fuzz` starts (tests/fuzz/run_fuzz.py): the test settings,
with sign-in throttles out of the fuzzer's way and the schema's links published."""

from typing import cast

from backend.settings_test import *  # noqa: F403
from backend.settings_test import REST_FRAMEWORK, SPECTACULAR_SETTINGS

LINKS_HOOK = "backend.openapi_links.add_links"
_hooks = cast(list[str], SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(
        cast(dict[str, str], REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]), "100000/min"
    ),
}
if LINKS_HOOK not in _hooks:
    SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "POSTPROCESSING_HOOKS": [*_hooks, LINKS_HOOK]}
