"""One way to page every collection of the API: DRF's cursor pagination, `limit` and
`cursor` as query parameters, and one envelope, `{"next", "previous", "results"}`.

Cursors stay stable while rows are added (no page counting, no skipped or repeated row when
a patient writes while scrolling). Each list names its ordering, ending with a unique column,
so two rows never tie. A bad `cursor` or `limit` is a bad parameter: a 400 naming it.

A cursor is sealed: its position (the value of the list's first ordering column on the
page's edge: a patient's name on the therapist's patient list, a time on others) is
encrypted with AES-256-GCM under a key derived from SECRET_KEY, the list's path bound in as
associated data. A URL travels to access logs, proxies, browser history and error reports,
so it carries no readable position; padding to a multiple of 64 bytes hides a name's
length. Only a cursor this API made for this list opens: a hand-made one on a list ordered
by text would name a position like any other and answer an empty or shifted page where the
client sent a mistake. The nonce is derived from the sealed text (an HMAC), so the same
position on the same list gives the same link.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# The query parameters every list accepts, as the unknown-parameter check names them.
PAGE_QUERY_PARAMETERS = ("cursor", "limit")


def _bad_cursor() -> ValidationError:
    return ValidationError(
        {"cursor": ["Not a cursor from this list: use the `next` or `previous` link."]}
    )


def _bad_limit() -> ValidationError:
    return ValidationError({"limit": [f"Give a whole number from 1 to {MAX_PAGE_SIZE}."]})


# A sealed cursor: nonce, then ciphertext and tag, in unpadded URL-safe base64.
_NONCE_BYTES = 12
_PAD_BYTES = 64
_MAX_CURSOR_CHARS = 2048
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]+")


@functools.lru_cache(maxsize=4)  # keyed by the SECRET_KEY in force (tests change it)
def _cursor_keys(secret: str) -> tuple[bytes, AESGCM]:
    """The nonce's HMAC key and the sealing cipher, derived from SECRET_KEY once a process
    rather than for every link of every page (OpenSSL sets a cipher up on its first use)."""

    def derived(purpose: bytes) -> bytes:
        return hashlib.sha256(b"afterglow.cursor." + purpose + b"|" + secret.encode()).digest()

    return derived(b"nonce"), AESGCM(derived(b"seal"))


def _seal_cursor(path: str, querystring: str) -> str:
    """The cursor for this position on this list: opaque, and only this list opens it."""
    text = querystring.encode("ascii")  # urlencode's output: never a NUL
    text += b"\0" * (_PAD_BYTES - len(text) % _PAD_BYTES)
    nonce_key, cipher = _cursor_keys(settings.SECRET_KEY)
    nonce = hmac.new(nonce_key, path.encode() + b"|" + text, hashlib.sha256)
    iv = nonce.digest()[:_NONCE_BYTES]
    sealed = iv + cipher.encrypt(iv, text, path.encode())
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def _open_cursor(path: str, cursor: str) -> str | None:
    """The position's query string, or None for anything this list did not seal."""
    if len(cursor) > _MAX_CURSOR_CHARS or not _CURSOR_TEXT.fullmatch(cursor):
        return None
    try:
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    iv, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    if len(iv) < _NONCE_BYTES:
        return None
    try:
        text = _cursor_keys(settings.SECRET_KEY)[1].decrypt(iv, body, path.encode())
    except InvalidTag:
        return None
    try:
        return text.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError:
        return None


class ApiCursorPagination(CursorPagination):
    """The pagination of every list; subclasses name the `ordering`, a unique column last."""

    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "limit"

    def get_page_size(self, request: Request) -> int:
        # DRF falls back to the default for a `limit` it cannot read and cuts one too large
        # down: a client would then believe it asked for what it got. A 400 instead.
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
            raise _bad_limit()
        return int(value)

    def encode_cursor(self, cursor: Cursor) -> str:
        tokens: dict[str, str] = {}
        if cursor.offset:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = str(cursor.position)
        encoded = _seal_cursor(self._path, urlencode(tokens))
        return str(replace_query_param(str(self.base_url), self.cursor_query_param, encoded))

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a bad cursor with 404; it is a bad parameter, so a 400 on `cursor`.
        # "%%%" or a cursor not sealed for this list is refused the same way.
        self._path = str(request.path)  # the list the links are sealed for
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        text = _open_cursor(self._path, encoded)
        if text is None:
            raise _bad_cursor()
        try:
            tokens = {
                name: values[0]
                for name, values in parse_qs(
                    text, keep_blank_values=True, strict_parsing=bool(text)
                ).items()
            }
        except ValueError:
            raise _bad_cursor() from None
        if set(tokens) - {"o", "r", "p"}:
            raise _bad_cursor()
        offset = tokens.get("o", "0")
        if not offset.isascii() or not offset.isdigit() or int(offset) > self.offset_cutoff:
            raise _bad_cursor()
        # DRF's cursor holds the position as text; its stubs say int.
        position: Any = tokens.get("p")
        return Cursor(offset=int(offset), reverse=tokens.get("r") == "1", position=position)

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        # A cursor's position is compared with the ordering column; one that is not a value
        # of that column's type (a hand-made cursor) makes the ORM raise while filtering.
        try:
            page: list[Any] | None = super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, TypeError):
            raise _bad_cursor() from None
        return page

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return []  # the views document `cursor` and `limit` (PAGE_PARAMETERS)


def cursor_pagination(*ordering: str) -> type[ApiCursorPagination]:
    """The pagination of a list ordered by these columns (the last one unique)."""
    return type("CursorPagination", (ApiCursorPagination,), {"ordering": ordering})


class SequencePagination(ApiCursorPagination):
    """The same envelope and parameters for a fixed list held in code (the instruments):
    its cursor holds an offset into the list, which never changes while the process runs."""

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        items = list(queryset)
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        cursor = self.decode_cursor(request)
        if cursor is not None and (cursor.reverse or cursor.position is not None):
            raise _bad_cursor()
        self.offset = cursor.offset if cursor is not None else 0
        self.has_next = self.offset + self.page_size < len(items)
        self.has_previous = self.offset > 0
        self.page = items[self.offset : self.offset + self.page_size]
        return self.page

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        return self.encode_cursor(Cursor(self.offset + self.page_size, False, None))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if self.offset <= self.page_size:
            # The first page has no cursor (an empty one is not one).
            return str(remove_query_param(str(self.base_url), self.cursor_query_param))
        return self.encode_cursor(Cursor(self.offset - self.page_size, False, None))


def paginated(
    request: Request,
    view: Any,
    rows: QuerySet[Any, Any] | Sequence[Any],
    render: Callable[[list[Any]], list[Any]],
    *,
    pagination: type[ApiCursorPagination],
) -> Response:
    """One page of `rows` in the envelope, each page's rows rendered at once by `render`."""
    paginator = pagination()
    page = paginator.paginate_queryset(rows, request, view=view) or []
    return paginator.get_paginated_response(render(page))


def page_reader(
    request: Request, view: Any, pagination: type[ApiCursorPagination]
) -> tuple[ApiCursorPagination, Callable[[QuerySet[Any, Any]], list[Any]]]:
    """A paginator and the function that reads one page of an ordered queryset with it: for
    selectors that must see which rows are read (the therapist's reads, each logged)."""
    paginator = pagination()

    def read(queryset: QuerySet[Any, Any]) -> list[Any]:
        return paginator.paginate_queryset(queryset, request, view=view) or []

    return paginator, read


def pages_of(
    name: str, item: type[serializers.Serializer[Any]]
) -> type[serializers.Serializer[Any]]:
    """The schema component of a page of `item`: `name` is `<Item>Page`."""

    class PageSerializer(serializers.Serializer[Any]):
        next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
        previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
        results = item(many=True)

        class Meta:
            ref_name = name

    return PageSerializer


# The query parameters of every list, as the OpenAPI document names them.
CURSOR_PARAMETER = OpenApiParameter("cursor", str, description="From `next` or `previous`.")
LIMIT_PARAMETER = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
    description=f"Page size: {DEFAULT_PAGE_SIZE} unless given, from 1 to {MAX_PAGE_SIZE}.",
)
PAGE_PARAMETERS = [CURSOR_PARAMETER, LIMIT_PARAMETER]
