"""Serializer building blocks shared by every app's views."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db.models import TextChoices
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from backend.accounts.countries import is_country_code
from backend.accounts.models import is_known_time_zone


class StrictSerializer(serializers.Serializer[Any]):
    """An input serializer that refuses keys it does not declare.

    A misspelt or unsupported field (say, `email` on PATCH /me/) answers 400 instead of
    being ignored, so a client never believes a change was made. The message names the
    accepted fields, never the submitted keys: the error must not echo client input.
    """

    @cached_property
    def fields(self) -> BindingDict:
        """The fields, bound once per class and shared by its instances.

        DRF deep-copies every declared field for every new serializer, which is most of the
        cost of validating a small body. Input serializers here declare fixed fields that
        keep nothing between validations and read nothing of the request through their
        parent, so a class binds them once, to an instance of its own made without data
        (holding nothing of any request), and each request's instance uses those. An
        instance made with a context or as partial reads them through its parent, so it
        binds its own copy, as DRF does. A default must then be immutable or a callable
        (`default=list`, never `default=[]`), or one object would serve every request
        (tests/backend/test_strict_serializer.py checks every input serializer).
        """
        if self.partial or self._context:
            return _bound_fields(self)
        cls = type(self)
        shared = _SHARED_FIELDS.get(cls)
        if shared is None:
            prototype = cls()
            shared = _bound_fields(prototype)
            prototype.__dict__["fields"] = shared
            _SHARED_FIELDS[cls] = shared
        return shared

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            accepted = {name for name, field in self.fields.items() if not field.read_only}
            if set(data) - accepted:
                names = ", ".join(f"'{name}'" for name in sorted(accepted)) or "nothing"
                raise serializers.ValidationError(
                    {api_settings.NON_FIELD_ERRORS_KEY: [f"Unknown fields. Accepted: {names}."]},
                    code="unknown_field",
                )
        return super().to_internal_value(data)


_SHARED_FIELDS: dict[type[StrictSerializer], BindingDict] = {}


def _bound_fields(serializer: serializers.Serializer[Any]) -> BindingDict:
    fields = BindingDict(serializer)
    for name, field in serializer.get_fields().items():
        fields[name] = field
    return fields


class NoLoneSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's refusal of lone surrogates (text that cannot be stored as UTF-8), asked of the
    UTF-8 codec instead of one Python step a character: the same message and code, naming
    the same first surrogate, in microseconds rather than half a millisecond for 20,000
    characters."""

    def __call__(self, value: Any) -> None:
        text = str(value)
        if text.isascii():
            return
        try:
            text.encode("utf-8")  # fails on a surrogate code point, and on nothing else
        except UnicodeEncodeError as error:
            code_point = ord(text[error.start])
            # `from None`: the codec's error holds the whole text in `.object`.
            raise ValidationError(
                self.message.format(code_point=code_point), code=self.code
            ) from None


class TextField(serializers.CharField):
    """A CharField for long text a person writes (an entry's body, a session's note),
    whose check for lone surrogates is `NoLoneSurrogates`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            NoLoneSurrogates()
            if type(validator) is ProhibitSurrogateCharactersValidator
            else validator
            for validator in self.validators
        ]


class TimeZoneField(serializers.CharField):
    """An IANA time zone name such as "Europe/Berlin"."""

    default_error_messages = {
        "unknown_time_zone": "Not a known IANA time zone name (such as 'Europe/Berlin').",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not is_known_time_zone(value):
            self.fail("unknown_time_zone")
        return value


class CountryField(serializers.CharField):
    """An ISO 3166-1 alpha-2 country code such as "DE" (any case; stored in capitals).
    Blank, where allowed, means "not set"."""

    default_error_messages = {
        "unknown_country": "Not an ISO 3166-1 alpha-2 country code (such as 'DE' or 'GB').",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).upper()
        if value and not is_country_code(value):
            self.fail("unknown_country")
        return value


EARLIEST_YEAR = 2000


LATEST_YEAR = 2100


class EnumField(serializers.ChoiceField):
    """A choice of a TextChoices enum, named in the schema after the enum (`SessionKind`).

    Its message lists the choices and never repeats the value sent.
    """

    def __init__(self, enum: type[TextChoices], **kwargs: Any) -> None:
        self.enum_name = enum.__name__
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": "Choose one of: " + ", ".join(enum.values) + "."},
        )
        super().__init__(choices=enum.choices, **kwargs)


class EnumFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """One schema component per enum: `kind` of a session and of an entry are different
    enums under the same field name, which drf-spectacular would otherwise name by hash."""

    target_class = EnumField
    match_subclasses = True

    def get_name(self) -> str | None:
        name: str = self.target.enum_name
        return name

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time between the years 2000 and 2100 (one without an offset is UTC)."""

    default_error_messages = {
        "out_of_range": f"Give a time between the years {EARLIEST_YEAR} and {LATEST_YEAR}.",
        "naive": "Give the time with its offset from UTC, e.g. 2026-03-02T09:00:00+01:00 or Z.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        # A time without an offset is ambiguous (09:00 in Berlin is not 09:00 UTC): refused.
        if isinstance(value, str):
            try:
                naive = parse_datetime(value)
            except ValueError:
                naive = None
            if naive is not None and naive.tzinfo is None:
                self.fail("naive")
        parsed = super().to_internal_value(value)
        if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return parsed
