"""The patient's care links, shares and access log, and the invitation preview
(/api/v1/care-links/, shares/, access-events/).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import (
    IsAuthenticatedWithSecondFactor,
    IsPatient,
)
from backend.api import (
    PROBLEM,
    PageListView,
    detail_schema,
    input_data,
    list_schema,
    problem_openapi,
    request_patient,
    request_user,
)
from backend.errors import ProblemError
from backend.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    IDEMPOTENT_REPLAYED_HEADER,
    idempotent,
    response_409_idempotency,
)
from backend.pagination import cursor_pagination
from backend.problem_codes import ProblemCode
from backend.serializers import BoundedDateTimeField, StrictSerializer
from backend.throttling import ScopedRateThrottleFailingOpen
from integration.care import links as care_links
from integration.care import selectors
from integration.care import shares as care_shares
from integration.care.serializers import (
    AccessEventPageSerializer,
    AccessEventSerializer,
    CareLinkDetailSerializer,
    CareLinkPageSerializer,
    CareLinkSerializer,
    ShareDetailSerializer,
    SharePageSerializer,
    ShareSerializer,
    care_link_data,
    care_link_detail_data,
    code_field,
    share_values,
)
from integration.models import AccessEvent, CareLink, Share

CODE_EXAMPLE = "K7M2-QX9P"


class _PostThrottled:
    """Throttle only writes (code guesses), not the lists on the same address."""

    throttle_scope = "otp"

    def get_throttles(self) -> list[Any]:
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST":
            return [ScopedRateThrottleFailingOpen()]
        return []


RESPONSE_400_CODE = problem_openapi(
    "`invalid_invitation_code`: the code is wrong, used or expired (one answer for all)."
)


RESPONSE_409_LINKED = problem_openapi("`already_linked`: you are linked to this therapist already.")
RESPONSE_409_LINKED_OR_CONSENT = response_409_idempotency(
    "CareLink",
    "`already_linked`: you are linked to this therapist already; `consent_version_outdated`: "
    "the consent text shown is not the current one (`current_consent_version` says which); ",
)
RESPONSE_409_CONSENT = problem_openapi(
    "`consent_version_outdated`: the consent text shown is not the current one "
    "(`current_consent_version` says which)."
)
RESPONSE_410_ENDED = problem_openapi("`care_link_ended`: the link has ended.")


class CareLinkPreviewView(_PostThrottled, APIView):
    permission_classes = [IsPatient]

    class InputSerializer(StrictSerializer):
        code = code_field()

        class Meta:
            ref_name = "CareLinkPreview"

    class OutputSerializer(serializers.Serializer[Any]):
        therapist_display_name = serializers.CharField()
        expires_at = serializers.DateTimeField(help_text="The code can be used until then.")

        class Meta:
            ref_name = "CareLinkPreview"

    @extend_schema(
        tags=["care"],
        operation_id="care_links_preview",
        summary="See whose invitation a code is, before linking",
        description="Changes nothing: confirm with POST /api/v1/care-links/.",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="The therapist who invited you."),
            (400, PROBLEM): RESPONSE_400_CODE,
            (409, PROBLEM): RESPONSE_409_LINKED,
        },
        examples=[OpenApiExample("Code", value={"code": CODE_EXAMPLE}, request_only=True)],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        invitation = care_links.invitation_preview(
            patient=request_patient(request), code=data["code"]
        )
        return Response(
            self.OutputSerializer(
                {
                    "therapist_display_name": invitation.therapist.display_name,
                    "expires_at": invitation.expires_at,
                }
            ).data
        )


@extend_schema_view(
    get=list_schema(
        "care", "care_links_list", "Your care links, ended ones too", CareLinkPageSerializer
    )
)
class CareLinkCollectionView(_PostThrottled, PageListView):
    permission_classes = [IsPatient]
    pagination = cursor_pagination("-created_at", "-id")

    class InputSerializer(StrictSerializer):
        code = code_field()
        confirm = serializers.BooleanField(
            help_text="Send true once you have seen the therapist's name (from /preview/)."
        )
        safety_alerts_enabled = serializers.BooleanField(
            default=False, help_text="Let safety alerts reach this therapist."
        )
        consent_version = serializers.CharField(
            max_length=32,
            required=False,
            help_text="With consent: the version of the consent text you were shown (the "
            "current one; another answers 409 `consent_version_outdated`).",
        )

        class Meta:
            ref_name = "CareLinkCreate"

        def validate_confirm(self, value: bool) -> bool:
            if not value:
                raise serializers.ValidationError("Confirm with true to link.")
            return value

    def rows(self, request: Request) -> QuerySet[CareLink]:
        return selectors.care_links_for_patient(patient=request_patient(request))

    def render(self, page: list[CareLink]) -> list[Any]:
        return [care_link_data(link) for link in page]

    @extend_schema(
        tags=["care"],
        operation_id="care_links_create",
        summary="Link to a therapist with their invitation code",
        description=(
            "Uses the code up. The therapist then sees your name and the kind and time of "
            "your upcoming sessions, nothing more: they read entries only through a share."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER],
        responses={
            201: OpenApiResponse(CareLinkSerializer, description="Linked."),
            (400, PROBLEM): RESPONSE_400_CODE,
            (409, PROBLEM): RESPONSE_409_LINKED_OR_CONSENT,
        },
        examples=[
            OpenApiExample(
                "Link, without safety alerts",
                value={"code": CODE_EXAMPLE, "confirm": True, "safety_alerts_enabled": False},
                request_only=True,
            ),
            OpenApiExample(
                "Link, with safety alerts",
                value={
                    "code": CODE_EXAMPLE,
                    "confirm": True,
                    "safety_alerts_enabled": True,
                    "consent_version": "1",
                },
                request_only=True,
            ),
        ],
        extensions={"x-throttled": True},
    )
    @idempotent("care_links_create", resource_type="care_link")
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        link = care_links.care_link_create(
            patient=request_patient(request),
            code=data["code"],
            safety_alerts_enabled=data["safety_alerts_enabled"],
            consent_version=data.get("consent_version"),
        )
        return Response(care_link_data(link), status=status.HTTP_201_CREATED)

    def replay(self, request: Request, resource_id: str, status_code: int) -> Response:
        link, _ = selectors.care_link_get_for_patient(
            patient=request_patient(request), link_id=uuid.UUID(resource_id)
        )
        return Response(care_link_data(link), status=status_code)


class CareLinkDetailView(APIView):
    # Reading and changing consent: the patient of the link. Ending it: either side, the
    # therapist signed in with the second factor.
    def get_permissions(self) -> list[Any]:
        if self.request.method in ("GET", "HEAD", "PATCH"):  # HEAD runs the GET view
            return [IsPatient()]
        return [IsAuthenticatedWithSecondFactor()]

    class UpdateSerializer(StrictSerializer):
        safety_alerts_enabled = serializers.BooleanField(
            help_text="Give (true) or withdraw (false) consent to safety alerts reaching this "
            "therapist. Takes effect at once."
        )
        consent_version = serializers.CharField(
            max_length=32,
            required=False,
            help_text="When giving consent: the version of the consent text you were shown "
            "(`current_consent_version`). Withdrawing never needs it.",
        )

        class Meta:
            ref_name = "CareLinkUpdate"

    @detail_schema(
        "care",
        "One of your care links, with your safety alert consent history",
        OpenApiResponse(CareLinkDetailSerializer, description="The link."),
        operation_id="care_links_retrieve",
        problems={
            410: problem_openapi(
                "`care_link_ended`: the link was ended; the problem carries `ended_at` and "
                "`safety_alerts_history`, and the list keeps the link."
            )
        },
    )
    def get(self, request: Request, link_id: uuid.UUID) -> Response:
        link, history = selectors.care_link_get_for_patient(
            patient=request_patient(request), link_id=link_id
        )
        data = care_link_detail_data(link, history)
        if link.ended_at is not None:
            # DELETE ended it: nothing is served at its address any more (as for a revoked
            # share), yet the patient keeps the record of their decisions.
            raise ProblemError(
                410,
                ProblemCode.CARE_LINK_ENDED,
                "This care link has ended; it stays in your list of care links as a record.",
                extra={
                    "ended_at": data["ended_at"],
                    "safety_alerts_history": data["safety_alerts_history"],
                },
            )
        return Response(data)

    @detail_schema(
        "care",
        "Give or withdraw consent to safety alerts on a care link",
        OpenApiResponse(CareLinkDetailSerializer, description="The changed link."),
        operation_id="care_links_update",
        description=(
            "Takes effect at once: the next PHQ-9 with item 9 above 0 alerts this therapist, "
            "or does not. Withdrawing also hides alerts not yet acknowledged and cancels any "
            "not yet sent. Each change is recorded with its time and the consent text "
            "version (see GET for the history); the therapist sees only the current state. "
            "Repeating the decision in force changes nothing."
        ),
        problems={409: RESPONSE_409_CONSENT, 410: RESPONSE_410_ENDED},
        request=UpdateSerializer,
        examples=[
            OpenApiExample(
                "Withdraw consent", value={"safety_alerts_enabled": False}, request_only=True
            ),
            OpenApiExample(
                "Give consent",
                value={"safety_alerts_enabled": True, "consent_version": "1"},
                request_only=True,
            ),
        ],
    )
    def patch(self, request: Request, link_id: uuid.UUID) -> Response:
        patient = request_patient(request)
        data = input_data(request, self.UpdateSerializer)
        care_links.care_link_consent_set(
            patient=patient,
            link_id=link_id,
            safety_alerts_enabled=data["safety_alerts_enabled"],
            consent_version=data.get("consent_version"),
        )
        link, history = selectors.care_link_get_for_patient(patient=patient, link_id=link_id)
        return Response(care_link_detail_data(link, history))

    @detail_schema(
        "care",
        "End a care link (patient or therapist)",
        OpenApiResponse(description="Ended."),
        status=204,
        operation_id="care_links_end",
        description=(
            "Every share under it stops being readable with the therapist's next request. "
            "Ending an ended link changes nothing (204)."
        ),
    )
    def delete(self, request: Request, link_id: uuid.UUID) -> Response:
        care_links.care_link_end(user=request_user(request), link_id=link_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


RESPONSE_400_SHARE = problem_openapi("`validation`: see `errors` for the fields.")


@extend_schema_view(
    get=list_schema("care", "shares_list", "Your shares, whatever their state", SharePageSerializer)
)
class ShareCollectionView(PageListView):
    permission_classes = [IsPatient]
    pagination = cursor_pagination("-created_at", "-id")

    class InputSerializer(StrictSerializer):
        care_link = serializers.UUIDField(help_text="One of your active care links.")
        entries = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            default=list,
            max_length=care_links.SHARE_MAX_ENTRIES,
            help_text="Ids of your entries to share.",
        )
        dosing_session = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Share everything attached to this dosing session (intentions, "
            "reflections, exercise answers, after-effects), entries added later too.",
        )
        integration_session = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="The upcoming integration session the share is for.",
        )
        expires_at = BoundedDateTimeField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Default: 7 days after the integration session, or 7 days from now; "
            "at most 90 days from now.",
        )
        include_measures = serializers.BooleanField(
            default=False,
            help_text="Also share your PHQ-9 and GAD-7 scores, past and future, with the "
            "dates of your dosing sessions: your therapist sees them as charts.",
        )

        class Meta:
            ref_name = "ShareCreate"

    def rows(self, request: Request) -> QuerySet[Share]:
        return selectors.shares_for_patient(patient=request_patient(request))

    def render(self, page: list[Share]) -> list[Any]:
        return list(ShareSerializer([share_values(share) for share in page], many=True).data)

    @extend_schema(
        tags=["care"],
        operation_id="shares_create",
        summary="Share entries, a dosing session and/or your measures with a linked therapist",
        description=(
            "Give entries, a dosing session, `include_measures`, or several. An entry you "
            "edit after sharing is shown to the therapist as edited. Measures are off "
            "unless you ask. Revoke at any time with DELETE."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED_HEADER],
        responses={
            201: OpenApiResponse(ShareSerializer, description="Shared."),
            (400, PROBLEM): RESPONSE_400_SHARE,
            (409, PROBLEM): response_409_idempotency("Share"),
        },
        examples=[
            OpenApiExample(
                "A dosing session, for the next integration session",
                value={
                    "care_link": "0b7d4c1e-2f57-4d8e-9a51-3c2e1f0a9b10",
                    "dosing_session": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                    "integration_session": "7a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d",
                    "include_measures": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Two entries for a week",
                value={
                    "care_link": "0b7d4c1e-2f57-4d8e-9a51-3c2e1f0a9b10",
                    "entries": [
                        "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                        "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                    ],
                    "expires_at": "2026-03-09T18:00:00Z",
                },
                request_only=True,
            ),
        ],
    )
    @idempotent("shares_create", resource_type="share")
    def post(self, request: Request) -> Response:
        patient = request_patient(request)
        data = input_data(request, self.InputSerializer)
        share = care_shares.share_create(
            patient=patient,
            care_link_id=data["care_link"],
            entry_ids=data["entries"],
            dosing_session_id=data["dosing_session"],
            integration_session_id=data["integration_session"],
            expires_at=data["expires_at"],
            include_measures=data["include_measures"],
        )
        return self.replay(request, str(share.pk), status.HTTP_201_CREATED)

    def replay(self, request: Request, resource_id: str, status_code: int) -> Response:
        patient = request_patient(request)
        share = selectors.shares_for_patient(patient=patient).get(pk=resource_id)
        return Response(ShareSerializer(share_values(share)).data, status=status_code)


class ShareDetailView(APIView):
    permission_classes = [IsPatient]

    @detail_schema(
        "care",
        "A share and exactly what it exposes",
        OpenApiResponse(ShareDetailSerializer, description="The share."),
        operation_id="shares_retrieve",
        problems={
            410: problem_openapi(
                "`share_revoked`: revoked (DELETE); `revoked_at` says when. The list of "
                "shares keeps it as a record."
            )
        },
    )
    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        exposure = selectors.share_get_for_patient(
            patient=request_patient(request), share_id=share_id
        )
        values = share_values(exposure.share)
        values["exposes"] = {
            "entries": exposure.entries,
            "dosing_session_record": exposure.exposes_session,
            "prompt_count": exposure.prompt_count,
            "measures": exposure.share.include_measures,
        }
        return Response(ShareDetailSerializer(values).data)

    @detail_schema(
        "care",
        "Revoke a share",
        OpenApiResponse(description="Revoked."),
        status=204,
        operation_id="shares_revoke",
        description="The therapist's next request no longer reads it. Again: no change (204).",
    )
    def delete(self, request: Request, share_id: uuid.UUID) -> Response:
        care_shares.share_revoke(patient=request_patient(request), share_id=share_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=list_schema(
        "care",
        "access_events_list",
        "Who read your data, and what",
        AccessEventPageSerializer,
        description=(
            "Every read by a therapist, and every read of your calendar feed's URL (`via`: "
            "`calendar`), newest first, cursor pages."
        ),
    )
)
class AccessEventListView(PageListView):
    permission_classes = [IsPatient]
    pagination = cursor_pagination("-created_at", "-id")

    def rows(self, request: Request) -> QuerySet[AccessEvent]:
        return selectors.access_events_for_patient(patient=request_patient(request))

    def render(self, page: list[AccessEvent]) -> list[Any]:
        return list(AccessEventSerializer(page, many=True).data)
