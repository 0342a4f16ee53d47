"""The sessions API's shapes (and the after-effects block of a dosing session)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from backend.pagination import MAX_PAGE_SIZE, pages_of
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from journal.api import (
    NoticeField,
    represent,
    version_and_times,
)
from journal.keys import Sealer
from journal.models import (
    AFTER_EFFECTS,
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
    Severity,
    TreatmentSession,
)
from journal.sessions import selectors


class AfterEffectsSerializer(StrictSerializer):
    """How strong each common acute effect of the dosing session was."""

    dissociation = EnumField(Severity)
    nausea = EnumField(Severity)
    dizziness = EnumField(Severity)
    headache = EnumField(Severity)
    raised_blood_pressure = EnumField(Severity)
    anxiety = EnumField(Severity)

    class Meta:
        ref_name = "AfterEffects"


if tuple(AfterEffectsSerializer._declared_fields) != AFTER_EFFECTS:
    raise ImproperlyConfigured("AfterEffectsSerializer must list journal.models.AFTER_EFFECTS.")


class SessionOutputSerializer(serializers.Serializer[selectors.OpenedSession]):
    id = serializers.UUIDField()
    kind = EnumField(SessionKind)
    modality = EnumField(Modality, allow_null=True, help_text="Dosing sessions only.")
    setting = EnumField(Setting, allow_null=True, help_text="Dosing sessions only.")
    scheduled_start = serializers.DateTimeField()
    actual_start = serializers.DateTimeField(allow_null=True)
    actual_end = serializers.DateTimeField(allow_null=True)
    status = EnumField(SessionStatus)
    note = serializers.CharField(allow_blank=True)
    after_effects = AfterEffectsSerializer(allow_null=True)
    overall_rating = serializers.IntegerField(allow_null=True, min_value=0, max_value=10)
    version, written_at, created_at, updated_at = version_and_times()

    class Meta:
        ref_name = "Session"


class SessionRecordSerializer(SessionOutputSerializer):
    """A session as a create, change or read of it answers: with the notice."""

    notice = NoticeField()

    class Meta:
        ref_name = "SessionRecord"


def session_data(session: TreatmentSession, sealer: Sealer) -> dict[str, Any]:
    return represent(SessionOutputSerializer, selectors.open_session(session, sealer=sealer))


SessionPageSerializer = pages_of("SessionPage", SessionOutputSerializer)


class SessionFilterSerializer(StrictSerializer):
    kind = EnumField(SessionKind, required=False)
    status = EnumField(SessionStatus, required=False)
    cursor = serializers.CharField(required=False, help_text="From `next` or `previous`.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, help_text="Page size (50)."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # `from` is a Python keyword, so these are added here rather than declared.
        fields["from"] = BoundedDateTimeField(
            required=False, source="starts_from", help_text="Scheduled at or after this time."
        )
        fields["to"] = BoundedDateTimeField(
            required=False, source="starts_before", help_text="Scheduled before this time."
        )
        return fields
