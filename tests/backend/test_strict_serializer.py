"""backend.serializers.StrictSerializer: unknown keys refused, fields bound once per class."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.serializers import StrictSerializer


class Note(StrictSerializer):
    title = serializers.CharField(max_length=5)
    mood = serializers.IntegerField(required=False, min_value=0, max_value=10)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)


class Outer(StrictSerializer):
    note = Note()
    count = serializers.IntegerField()


def validated(serializer: serializers.Serializer[Any]) -> tuple[bool, Any]:
    ok = serializer.is_valid()
    return ok, serializer.validated_data if ok else serializer.errors


def test_instances_share_their_fields_and_nothing_of_each_others_data() -> None:
    first, second = Note(data={"title": "calm", "mood": 4}), Note(data={"title": "far too long"})
    assert first.fields is second.fields
    # The shared fields belong to an instance of their own, made without data.
    parent = next(iter(first.fields.values())).parent
    assert parent is not first
    assert parent is not second
    assert not hasattr(parent, "initial_data")

    assert validated(second) == (
        False,
        {"title": ["Ensure this field has no more than 5 characters."]},
    )
    assert validated(first) == (True, {"title": "calm", "mood": 4})
    assert validated(Note(data={"title": "ok", "tags": ["long tag"]}))[0] is False
    assert validated(Note(data={"title": "ok", "tags": ["a"]})) == (
        True,
        {"title": "ok", "tags": ["a"]},
    )


def test_unknown_keys_are_refused_without_echoing_them() -> None:
    ok, errors = validated(Note(data={"title": "ok", "secret-key": 1}))
    assert ok is False
    assert "secret-key" not in str(errors)
    assert "'title'" in str(errors["non_field_errors"])


def test_nested_strict_serializers_validate_with_shared_fields() -> None:
    assert Outer(data={}).fields is Outer(data={}).fields
    ok, data = validated(Outer(data={"note": {"title": "hi"}, "count": 2}))
    assert ok
    assert data == {"note": {"title": "hi"}, "count": 2}
    ok, errors = validated(Outer(data={"note": {"title": "hi", "x": 1}, "count": 2}))
    assert ok is False
    assert set(errors) == {"note"}


def test_a_partial_or_contextual_instance_binds_its_own_fields() -> None:
    partial = Note(data={"mood": 3}, partial=True)
    assert partial.fields is not Note(data={}).fields
    assert validated(partial) == (True, {"mood": 3})  # `title` may be left out of a partial
    assert validated(Note(data={"mood": 3}))[0] is False

    contextual = Note(data={"title": "ok"}, context={"request": None})
    assert contextual.fields is not Note(data={}).fields
    assert next(iter(contextual.fields.values())).context == {"request": None}


def all_strict_serializers() -> list[type[StrictSerializer]]:
    import backend.urls  # noqa: F401 (imports every view, and so every serializer)

    found: list[type[StrictSerializer]] = []
    pending: list[type[StrictSerializer]] = [StrictSerializer]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


def test_no_shared_field_has_a_mutable_default() -> None:
    """Fields are shared between requests: a list or dict given as a default (rather than
    a callable such as `list`) would be one object handed to every request."""
    serializers_found = all_strict_serializers()
    assert len(serializers_found) > 20  # every app's input serializers were found
    for serializer_class in serializers_found:
        pending = list(serializer_class(data={}).fields.values())
        while pending:
            field = pending.pop()
            default = getattr(field, "default", None)
            assert not isinstance(default, list | dict | set), (serializer_class, field)
            pending.extend(getattr(field, "fields", {}).values())
            child = getattr(field, "child", None)
            if child is not None:
                pending.append(child)
