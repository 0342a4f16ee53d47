"""The therapist's output shapes, field by field: only what a therapist may see."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.pagination import pages_of
from backend.serializers import EnumField
from integration.care.serializers import SessionRefSerializer, ShareStateField
from integration.models import (
    CareInvitation,
    PromptDelivery,
    PromptStatus,
)
from journal.instruments import Band, Instrument
from journal.models import (
    EntryKind,
    Modality,
    SessionKind,
    SessionStatus,
    Setting,
)
from journal.sessions.serializers import AfterEffectsSerializer


class InvitationSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CareInvitation"


InvitationPageSerializer = pages_of("CareInvitationPage", InvitationSerializer)


class NewInvitationSerializer(InvitationSerializer):
    code = serializers.CharField(
        allow_null=True,
        help_text="Shown this once: give it to the patient. Null on a repeat under the same "
        "Idempotency-Key: the code is not kept, so it cannot be shown again (create another "
        "invitation if it was lost).",
    )

    class Meta:
        ref_name = "NewCareInvitation"


def invitation_values(invitation: CareInvitation) -> dict[str, Any]:
    return {
        "id": invitation.public_id,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
    }


class UpcomingSessionSerializer(serializers.Serializer[Any]):
    kind = EnumField(SessionKind)
    scheduled_start = serializers.DateTimeField()

    class Meta:
        ref_name = "TherapistUpcomingSession"


class LinkedPatientSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="patient_id")
    display_name = serializers.CharField()
    upcoming_sessions = UpcomingSessionSerializer(many=True, help_text="Soonest first.")
    next_integration_session_at = serializers.DateTimeField(allow_null=True)
    care_link = serializers.UUIDField(
        source="care_link_id", help_text="To end the link: DELETE /api/v1/care-links/{id}/."
    )
    safety_alerts_enabled = serializers.BooleanField(
        help_text="Whether the patient allows safety alerts to reach you now (they can change "
        "it at any time; only the current state is shown)."
    )
    safety_alerts_since = serializers.DateTimeField(
        allow_null=True, help_text="When the patient made the current decision."
    )
    country = serializers.CharField(
        allow_null=True,
        help_text="The patient's country (ISO 3166-1), whose crisis lines they are shown.",
    )

    class Meta:
        ref_name = "TherapistLinkedPatient"


LinkedPatientPageSerializer = pages_of("TherapistLinkedPatientPage", LinkedPatientSerializer)


class TherapistShareSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    dosing_session = SessionRefSerializer(allow_null=True)
    integration_session = SessionRefSerializer(allow_null=True)
    entry_count = serializers.IntegerField()
    include_measures = serializers.BooleanField(
        help_text="Its measures: GET /api/v1/therapist/shares/{id}/measures/."
    )

    class Meta:
        ref_name = "TherapistShare"


TherapistSharePageSerializer = pages_of("TherapistSharePage", TherapistShareSerializer)


class TherapistShareHistorySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="share_id")
    state = ShareStateField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    link_ended_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "TherapistShareHistoryItem"


TherapistShareHistoryPageSerializer = pages_of(
    "TherapistShareHistoryPage", TherapistShareHistorySerializer
)


class SharedSessionSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    modality = EnumField(Modality, allow_null=True)
    setting = EnumField(Setting, allow_null=True)
    scheduled_start = serializers.DateTimeField()
    actual_start = serializers.DateTimeField(allow_null=True)
    actual_end = serializers.DateTimeField(allow_null=True)
    status = EnumField(SessionStatus)
    after_effects = AfterEffectsSerializer(allow_null=True)
    overall_rating = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "TherapistSharedSession"


class SharedEntrySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = EnumField(EntryKind)
    title = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    mood = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    is_edited = serializers.BooleanField(help_text="Changed since it was shared with you.")
    shared_via = serializers.ChoiceField(
        choices=["entry", "session"],
        help_text="entry: chosen by the patient; session: attached to the shared dosing session.",
    )

    class Meta:
        ref_name = "TherapistSharedEntry"


class SharedPromptSerializer(serializers.Serializer[Any]):
    exercise_title = serializers.CharField()
    due_at = serializers.DateTimeField()
    status = EnumField(PromptStatus)
    completed_at = serializers.DateTimeField(allow_null=True)
    delivered_via = EnumField(
        PromptDelivery,
        allow_null=True,
        help_text="`push` or `inbox` (no device of the patient took the notification).",
    )

    class Meta:
        ref_name = "TherapistSharedPrompt"


class SharePatientSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="patient_id")
    display_name = serializers.CharField(source="patient_display_name")

    class Meta:
        ref_name = "TherapistSharePatient"


class ShareContentSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="share_id")
    patient = SharePatientSerializer(source="*")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    dosing_session = SharedSessionSerializer(allow_null=True)
    integration_session = SessionRefSerializer(allow_null=True)
    entries = SharedEntrySerializer(many=True, help_text="Oldest first.")
    prompts = SharedPromptSerializer(many=True, help_text="The dosing session's, by due time.")
    include_measures = serializers.BooleanField(
        help_text="Its measures: GET /api/v1/therapist/shares/{id}/measures/."
    )

    class Meta:
        ref_name = "TherapistShareContent"


class MeasureBandSerializer(serializers.Serializer[Any]):
    band = EnumField(Band)
    name = serializers.CharField(source="label", help_text="As printed: Minimal, Mild...")
    minimum = serializers.IntegerField()
    maximum = serializers.IntegerField()

    class Meta:
        ref_name = "TherapistMeasureBand"


class MeasurePointSerializer(serializers.Serializer[Any]):
    taken_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    band = EnumField(Band)
    is_baseline = serializers.BooleanField(help_text="The course's baseline score.")
    change_from_baseline = serializers.IntegerField(
        allow_null=True, help_text="Total minus the baseline total; null without a baseline."
    )
    percent_change = serializers.FloatField(
        allow_null=True, help_text="Of the baseline, one decimal; null for a baseline of 0."
    )
    is_response = serializers.BooleanField(
        allow_null=True,
        help_text="At least 50% below the baseline. Null before the first dosing session or "
        "without a baseline of at least 10.",
    )
    is_remission = serializers.BooleanField(
        allow_null=True, help_text="Below `remission_below`. Null when `is_response` is."
    )

    class Meta:
        ref_name = "TherapistMeasurePoint"


class MeasureSeriesSerializer(serializers.Serializer[Any]):
    instrument = EnumField(Instrument)
    name = serializers.CharField()
    max_total = serializers.IntegerField()
    bands = MeasureBandSerializer(many=True, help_text="Severity bands, lowest first.")
    remission_below = serializers.IntegerField()
    first_dosing_session_at = serializers.DateTimeField(allow_null=True)
    baseline = MeasurePointSerializer(
        allow_null=True, help_text="The last score before the first dosing session."
    )
    response_at_most = serializers.FloatField(
        allow_null=True,
        help_text="Totals at or below this (half the baseline) are a response; null when "
        "the flags do not apply.",
    )
    points = MeasurePointSerializer(many=True, help_text="Oldest first.")

    class Meta:
        ref_name = "TherapistMeasureSeries"


class ShareMeasuresSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="share_id")
    patient = SharePatientSerializer(source="*")
    expires_at = serializers.DateTimeField()
    dosing_sessions = serializers.ListField(
        child=serializers.DateTimeField(),
        help_text="Starts of the patient's dosing sessions so far, oldest first.",
    )
    series = MeasureSeriesSerializer(many=True, help_text="PHQ-9, then GAD-7.")

    class Meta:
        ref_name = "TherapistShareMeasures"
