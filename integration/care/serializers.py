"""The care API's shapes: care links, shares, access events."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.serializers import EnumField
from integration.care import selectors
from integration.models import (
    CareLink,
    CareLinkEndedBy,
    Share,
)
from journal.models import (
    EntryKind,
    TreatmentSession,
)


def code_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=32,
        write_only=True,
        help_text="The 8-character code from your therapist (case, spaces and dashes ignored).",
    )


class TherapistRefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    display_name = serializers.CharField()

    class Meta:
        ref_name = "TherapistRef"


class CareLinkSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    therapist = TherapistRefSerializer()
    safety_alerts_enabled = serializers.BooleanField(
        help_text="Whether safety alerts reach this therapist (your consent, off by default)."
    )
    is_active = serializers.BooleanField(help_text="False once either side ended it.")
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_by = EnumField(CareLinkEndedBy, allow_null=True)

    class Meta:
        ref_name = "CareLink"


def care_link_data(link: CareLink) -> dict[str, Any]:
    return dict(
        CareLinkSerializer(
            {
                "id": link.id,
                "therapist": {
                    "id": link.therapist_id,
                    "display_name": link.therapist.display_name,
                },
                "safety_alerts_enabled": link.safety_alerts_enabled,
                "is_active": link.is_active,
                "created_at": link.created_at,
                "ended_at": link.ended_at,
                "ended_by": link.ended_by or None,
            }
        ).data
    )


class SessionRefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    scheduled_start = serializers.DateTimeField()

    class Meta:
        ref_name = "SessionRef"


def session_ref(session: TreatmentSession | None) -> dict[str, Any] | None:
    if session is None or session.deleted_at is not None:
        return None
    return {"id": session.id, "scheduled_start": session.scheduled_start}


SHARE_STATE_HELP = (
    "active: readable by the therapist now; expired; revoked (by you); ended (its care link ended)."
)


class ShareStateField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=selectors.ShareState.ALL, help_text=SHARE_STATE_HELP, **kwargs)


class ShareSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    care_link = serializers.UUIDField()
    therapist = TherapistRefSerializer()
    state = ShareStateField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    dosing_session = SessionRefSerializer(
        allow_null=True, help_text="Everything attached to it is shared, later entries too."
    )
    integration_session = SessionRefSerializer(allow_null=True)
    entry_count = serializers.IntegerField(help_text="Entries it exposes now.")
    include_measures = serializers.BooleanField(
        help_text="Your PHQ-9 and GAD-7 scores are shared too (with your dosing sessions' dates)."
    )

    class Meta:
        ref_name = "Share"


def share_values(share: Share) -> dict[str, Any]:
    return {
        "id": share.id,
        "care_link": share.care_link_id,
        "therapist": {"id": share.therapist_id, "display_name": share.therapist.display_name},
        "state": selectors.share_state(share),
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "revoked_at": share.revoked_at,
        "dosing_session": session_ref(share.dosing_session),
        "integration_session": session_ref(share.integration_session),
        "entry_count": getattr(share, "exposed_entry_count", 0),
        "include_measures": share.include_measures,
    }


class ExposedEntrySerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = EnumField(EntryKind)
    title = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    shared_via = serializers.ChoiceField(
        choices=["entry", "session"],
        help_text="entry: you chose it; session: attached to the shared dosing session.",
    )

    class Meta:
        ref_name = "ExposedEntry"


class ShareExposureSerializer(serializers.Serializer[Any]):
    entries = ExposedEntrySerializer(many=True, help_text="Oldest first.")
    dosing_session_record = serializers.BooleanField(
        help_text="The dosing session's times, status, modality, setting, after-effects and "
        "overall rating (never its note)."
    )
    prompt_count = serializers.IntegerField(
        help_text="The dosing session's prompts: exercise title, due time and status."
    )
    measures = serializers.BooleanField(
        help_text="Every PHQ-9 and GAD-7 of yours, later ones too: time, total, severity band, "
        "change from your baseline (never the item answers), and the start times of your "
        "dosing sessions."
    )

    class Meta:
        ref_name = "ShareExposure"


class ShareDetailSerializer(ShareSerializer):
    exposes = ShareExposureSerializer(
        help_text="Exactly what the therapist reads while the share is active."
    )

    class Meta:
        ref_name = "ShareDetail"


class AccessEventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    actor_display_name = serializers.CharField(source="actor.display_name")
    action = serializers.CharField(
        help_text="patients.list, shares.list, shares.history, share.read, share.measures or "
        "safety_alerts.list."
    )
    share = serializers.UUIDField(source="share_id", allow_null=True)
    object_type = serializers.CharField(allow_blank=True)
    object_ids = serializers.ListField(child=serializers.CharField())
    via = serializers.ChoiceField(choices=["api", "dashboard"])
    request_id = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "AccessEvent"


class AccessEventPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = AccessEventSerializer(many=True)

    class Meta:
        ref_name = "AccessEventPage"
