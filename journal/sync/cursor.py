"""The sync cursor: an opaque string a client sends back, which is a change number bound to
the patient it was given to.

`c2.<number>.<tag>`: the number in base64url, and a tag, an HMAC of the patient's id and
the number under a key derived from SECRET_KEY, so that a cursor is read only for the
patient it was made for. Without the tag, a cursor kept across a switch of account would
name a position in the other account's feed and leave out every change before it; with
it, that cursor answers 410 `resync_required`. The tag shows nothing of the account, and
the refusal is the same whatever either account's count of changes is. A cursor made under
a key of SECRET_KEY_FALLBACKS is still read, so a rotation of the key costs no resync.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import uuid

from django.conf import settings
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import ValidationError

from backend.errors import ProblemError
from backend.problem_codes import ProblemCode

_CURSOR_PREFIX = "c2."


_CURSOR = re.compile(r"c2\.([A-Za-z0-9_-]{1,26})\.([A-Za-z0-9_-]{22})")


# A cursor given before cursors were bound to their patient: a position the app did reach,
# but whose, it cannot tell; it answers 410, so that the app starts again on its own.
_UNBOUND_CURSOR = re.compile(r"c1\.([A-Za-z0-9_-]{1,32})")


_MAX_CHANGE = 2**63 - 1


_TAG_SALT = "afterglow.journal.sync.cursor"


RESYNC_REQUIRED_DETAIL = (
    "This cursor is not one this account's feed has given out. Drop the synced copy (keep "
    "the writes not yet sent) and sync again without `since`."
)


def resync_required() -> ProblemError:
    return ProblemError(410, ProblemCode.RESYNC_REQUIRED, RESYNC_REQUIRED_DETAIL)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _tag(patient_id: uuid.UUID, change: int, secret: str | bytes) -> str:
    message = f"{patient_id}|{change}"
    return _b64(salted_hmac(_TAG_SALT, message, secret=secret, algorithm="sha256").digest()[:16])


def encode_sync_cursor(change: int, *, patient_id: uuid.UUID) -> str:
    """An opaque cursor: clients store it and send it back, and must not build one."""
    number = _b64(str(change).encode())
    return f"{_CURSOR_PREFIX}{number}.{_tag(patient_id, change, settings.SECRET_KEY)}"


def decode_sync_cursor(cursor: str, *, patient_id: uuid.UUID) -> int:
    """The change number of a cursor given to this patient. A string that is no cursor
    answers 400 on `since`; a cursor made for another patient (or altered) 410
    `resync_required`."""
    bad = ValidationError({"since": ["Not a cursor from this API: send the last `cursor`."]})
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        unbound = _UNBOUND_CURSOR.fullmatch(cursor)
        if unbound is not None and _change_number(unbound.group(1)) is not None:
            raise resync_required()
        raise bad
    body, tag = match.groups()
    change = _change_number(body)
    if change is None:
        raise bad
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(hmac.compare_digest(tag, _tag(patient_id, change, secret)) for secret in secrets):
        raise resync_required()
    return change


def _change_number(body: str) -> int | None:
    """The change number a cursor's body encodes, or None for a body that encodes none."""
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    if not text.isdigit() or int(text) > _MAX_CHANGE:
        return None
    return int(text)
