"""The care API's shapes: care links, shares, access events."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.pagination import pages_of
from backend.serializers import EnumField
from integration.care import selectors
from integration.care.access import AccessAction
from integration.care.links import current_consent_version
from integration.models import (
    CareLink,
    CareLinkEndedBy,
    SafetyAlertConsent,
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


class SafetyAlertConsentSerializer(serializers.Serializer[Any]):
    safety_alerts_enabled = serializers.BooleanField(
        source="is_given", help_text="True: consent given; false: withdrawn (or not given)."
    )
    consent_version = serializers.CharField(
        allow_null=True,
        help_text="The version of the consent text it was given or withdrawn under; null "
        "for decisions made before versions were recorded.",
    )
    recorded_at = serializers.DateTimeField()

    class Meta:
        ref_name = "SafetyAlertConsent"


class CareLinkSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    therapist = TherapistRefSerializer()
    safety_alerts_enabled = serializers.BooleanField(
        help_text="Whether safety alerts reach this therapist (your consent, off by default; "
        "change it with PATCH)."
    )
    safety_alerts_consent = SafetyAlertConsentSerializer(
        allow_null=True, help_text="The decision in force: when, and under which text."
    )
    current_consent_version = serializers.CharField(
        help_text="The version of the consent text to show when asking for consent now."
    )
    is_active = serializers.BooleanField(help_text="False once either side ended it.")
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_by = EnumField(CareLinkEndedBy, allow_null=True)

    class Meta:
        ref_name = "CareLink"


class CareLinkDetailSerializer(CareLinkSerializer):
    safety_alerts_history = SafetyAlertConsentSerializer(
        many=True, help_text="Every decision about safety alerts on this link, oldest first."
    )

    class Meta:
        ref_name = "CareLinkDetail"


def _consent_values(consent: SafetyAlertConsent | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {
        "is_given": consent.is_given,
        "consent_version": consent.consent_version or None,
        "recorded_at": consent.recorded_at,
    }


def _care_link_values(link: CareLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "therapist": {"id": link.therapist_id, "display_name": link.therapist.display_name},
        "safety_alerts_enabled": link.safety_alerts_enabled,
        "safety_alerts_consent": _consent_values(link.safety_alerts_consent),
        "current_consent_version": current_consent_version(),
        "is_active": link.is_active,
        "created_at": link.created_at,
        "ended_at": link.ended_at,
        "ended_by": link.ended_by or None,
    }


def care_link_data(link: CareLink) -> dict[str, Any]:
    """A link as lists show it. Reads `link.therapist` and `link.safety_alerts_consent`:
    select them with the link."""
    return dict(CareLinkSerializer(_care_link_values(link)).data)


CareLinkPageSerializer = pages_of("CareLinkPage", CareLinkSerializer)


def care_link_detail_data(link: CareLink, history: list[SafetyAlertConsent]) -> dict[str, Any]:
    values = _care_link_values(link)
    values["safety_alerts_history"] = [_consent_values(consent) for consent in history]
    return dict(CareLinkDetailSerializer(values).data)


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


def share_core_values(share: Share) -> dict[str, Any]:
    """What the patient and the therapist both see of a share (its id, dates, sessions and
    what it holds); the entry count is the selector's `exposed_entry_count`."""
    return {
        "id": share.id,
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "dosing_session": session_ref(share.dosing_session),
        "integration_session": session_ref(share.integration_session),
        "entry_count": getattr(share, "exposed_entry_count", 0),
        "include_measures": share.include_measures,
    }


def share_values(share: Share) -> dict[str, Any]:
    return share_core_values(share) | {
        "care_link": share.care_link_id,
        "therapist": {"id": share.therapist_id, "display_name": share.therapist.display_name},
        "state": selectors.share_state(share),
        "revoked_at": share.revoked_at,
    }


SharePageSerializer = pages_of("SharePage", ShareSerializer)


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
    id = serializers.UUIDField(source="public_id")
    actor_display_name = serializers.CharField(source="actor.display_name")
    action = EnumField(
        AccessAction,
        help_text="What was read: "
        + "; ".join(f"{action.value}: {action.label}" for action in AccessAction)
        + ".",
    )
    share = serializers.UUIDField(source="share_id", allow_null=True)
    object_type = serializers.CharField(allow_blank=True)
    object_ids = serializers.ListField(child=serializers.CharField())
    via = serializers.ChoiceField(choices=["api", "dashboard", "calendar"])
    request_id = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "AccessEvent"


AccessEventPageSerializer = pages_of("AccessEventPage", AccessEventSerializer)
