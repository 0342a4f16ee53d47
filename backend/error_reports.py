"""What Django's error reports (the DEBUG page, error e-mails) may show.

The service answers every error with a problem document in every mode
(backend.middleware), so the DEBUG page should never be reached; this filter is for the
paths that still reach it (an exception in a middleware placed above ours, a future
change) and for error e-mails. Django's own filter hides settings whose names contain
KEY, SECRET, TOKEN, PASS and a few more, not JOURNAL_KEKS, and shows database and broker
URLs with their passwords, a frame's local variables and a request's body in DEBUG.
"""

from __future__ import annotations

import re
from types import FrameType
from typing import Any

from django.http import HttpRequest, QueryDict
from django.views.debug import SafeExceptionReporterFilter

# Names of settings, headers (request.META), cookies and nested keys whose values are
# never shown. Broader than Django's: the journal's key-encryption keys (KEKS), push
# provider credentials (VAPID, private keys, credential files), session and CSRF cookies,
# the Authorization header.
HIDDEN_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|KEK|SECRET|PASS|PWD|SIGNATURE|CREDENTIAL|VAPID|PRIVATE|CERT|"
    r"COOKIE|CSRF|SESSION|SALT|DSN",
    flags=re.IGNORECASE,
)
# A URL with user information ("scheme://user:password@host"), up to the last "@" of the
# word, so a password with an unescaped "@" in it is covered too.
URL_WITH_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]*://)\S*@", re.IGNORECASE)


class SafeReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, on in every mode, hiding more names, the password of any URL,
    every request parameter and every local variable (they can hold journal text, a
    password or an unwrapped data key)."""

    hidden_settings = HIDDEN_NAMES

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django turns its filter off in DEBUG; `make run` is DEBUG, and its data is real
        # enough to protect (and a DEBUG server may be reachable from a network).
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return URL_WITH_CREDENTIALS.sub(rf"\1{self.cleansed_substitute}@", cleansed)
        return cleansed

    def get_post_parameters(self, request: HttpRequest | None) -> QueryDict | dict[str, Any]:
        if request is None:
            return {}
        cleansed = request.POST.copy()
        for name in cleansed:
            cleansed.setlist(name, [self.cleansed_substitute])
        return cleansed

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> Any:
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
