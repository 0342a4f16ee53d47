"""Accounts API: sign-in, devices and tokens, therapist enrolment, /me/ (registration is in
registration_views.py, passwords in password_views.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import selectors, services, terms
from backend.accounts.models import DeviceToken
from backend.accounts.serializers import (
    AddressField,
    DevicePageSerializer,
    DeviceSerializer,
    SignInSerializer,
    TermsStateSerializer,
    UserSerializer,
    device_name_field,
    password_field,
    sign_in_data,
)
from backend.api import (
    PROBLEM,
    AnonymousView,
    input_data,
    problem_openapi,
    request_device_token,
    request_example,
    request_user,
)
from backend.pagination import (
    PAGE_PARAMETERS,
    PAGE_QUERY_PARAMETERS,
    cursor_pagination,
    paginated,
)
from backend.serializers import CountryField, StrictSerializer, TimeZoneField
from backend.throttling import ScopedRateThrottleFailingOpen


class LoginView(AnonymousView):
    throttle_classes = [ScopedRateThrottleFailingOpen]
    throttle_scope = "login"

    class InputSerializer(StrictSerializer):
        email = AddressField()
        password = password_field()
        otp = serializers.CharField(
            max_length=20,
            required=False,
            allow_blank=True,
            write_only=True,
            help_text=(
                "Therapists: the current code from the authenticator app, or one of the "
                "recovery codes (always required; without it the answer is "
                "`invalid_credentials`). A recovery code works once."
            ),
        )
        device_name = device_name_field()

        class Meta:
            ref_name = "Login"

    @extend_schema(
        tags=["auth"],
        summary="Sign in and get a token for this device",
        description=(
            "A wrong password and an unknown address answer the same 401 "
            "`invalid_credentials`. Therapists always send `otp`: a therapist's sign-in "
            "without a current code (or before the authenticator app is confirmed) "
            "answers exactly like a wrong password, and counts as a failed attempt, so "
            "the answer never tells whether a password was right or whose account needs "
            "a code. Repeated failures for one address from one network address answer "
            "429 `locked_out` with `Retry-After`."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(SignInSerializer, description="Signed in."),
            (401, PROBLEM): problem_openapi(
                "`invalid_credentials`: the address, password or (therapists) code is wrong "
                "or missing."
            ),
            (403, PROBLEM): problem_openapi(
                "Said only to someone who gave the right password: `email_not_verified` "
                "(confirm the address with the code sent at registration) or "
                "`account_inactive` (the account was deactivated)."
            ),
        },
        examples=[
            request_example(
                "Patient",
                {
                    "email": "anna@example.org",
                    "password": "correct horse battery staple",
                    "device_name": "Anna's iPhone",
                },
            ),
            request_example(
                "Therapist",
                {
                    "email": "dr.berg@example.org",
                    "password": "correct horse battery staple",
                    "otp": "123456",
                    "device_name": "Practice laptop",
                },
            ),
        ],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        issued = services.user_sign_in(request=request._request, **data)
        return Response(sign_in_data(issued))


class LogoutView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Sign this device out",
        description="Revokes the token of this request (or ends the web session).",
        request=None,
        responses={204: OpenApiResponse(description="Signed out.")},
    )
    def post(self, request: Request) -> Response:
        token = request_device_token(request)
        if token is not None:
            services.device_token_revoke(device=token)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Sign every device out",
        description=(
            "Revokes all of the user's tokens, this one included, and ends every web "
            "(dashboard) session of the account."
        ),
        request=None,
        responses={204: OpenApiResponse(description="Every token and session has ended.")},
    )
    def post(self, request: Request) -> Response:
        services.user_end_all_sessions(user=request_user(request))
        if request_device_token(request) is None:
            # This request's own session is already invalid; flushing it clears the cookie.
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeviceListView(APIView):
    query_parameters = {"get": PAGE_QUERY_PARAMETERS}
    pagination = cursor_pagination("-created", "-digest")

    @extend_schema(
        tags=["auth"],
        summary="List the devices signed in to this account",
        description=(
            "Newest sign-in first; cursor pages. "
            "Each sign-in with its push registration (`push`, or null). A sign-in and the "
            "push registration made under it are one device: signing it out, revoking it, "
            "signing out everywhere, a new password and deactivation stop its pushes too."
        ),
        parameters=PAGE_PARAMETERS,
        responses={200: OpenApiResponse(DevicePageSerializer, description="A page.")},
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        token = request_device_token(request)

        def render(devices: list[DeviceToken]) -> list[Any]:
            context = {
                "current_digest": token.digest if token is not None else None,
                "push_states": selectors.device_push_states(
                    user=user, token_digests=[device.digest for device in devices]
                ),
            }
            return list(DeviceSerializer(devices, many=True, context=context).data)

        devices = selectors.device_token_list_for_user(user=user)
        return paginated(request, self, devices, render, pagination=self.pagination)


class DeviceRevokeView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Sign one device out",
        description="Revokes one of your own tokens, named by its `id` from the list.",
        parameters=[
            OpenApiParameter(
                "token_key",
                str,
                OpenApiParameter.PATH,
                description="A device `id` from GET /api/v1/auth/devices/.",
            )
        ],
        request=None,
        responses={204: OpenApiResponse(description="The token is revoked.")},
    )
    def delete(self, request: Request, token_key: str) -> Response:
        services.device_token_revoke_by_key(user=request_user(request), token_key=token_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EraseInputSerializer(StrictSerializer):
    password = password_field()

    class Meta:
        ref_name = "AccountErase"


# The answers and example of both erase operations (POST /me/erase/ and DELETE /me/).
ERASE_RESPONSES = {
    204: OpenApiResponse(description="Erased. Every token now answers 401."),
    (400, PROBLEM): problem_openapi("`validation`: the password is missing or not correct."),
}
ERASE_EXAMPLE = request_example("Erase", {"password": "my long passphrase"})


class MeView(APIView):
    class UpdateInputSerializer(StrictSerializer):
        display_name = serializers.CharField(max_length=100, required=False)
        time_zone = TimeZoneField(required=False)
        country = CountryField(
            required=False,
            allow_blank=True,
            help_text="Where you live (ISO 3166-1 alpha-2); blank to unset. The crisis lines "
            "you are shown follow it.",
        )

        class Meta:
            ref_name = "MeUpdate"

    @extend_schema(
        tags=["me"],
        summary="The signed-in account",
        responses={200: OpenApiResponse(UserSerializer, description="The account.")},
    )
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request_user(request)).data)

    @extend_schema(
        tags=["me"],
        summary="Change your display name, time zone or country",
        description=(
            "Only `display_name`, `time_zone` and `country`; any other field answers 400."
        ),
        request=UpdateInputSerializer,
        responses={200: OpenApiResponse(UserSerializer, description="The changed account.")},
        examples=[
            request_example("Moved to Lisbon", {"time_zone": "Europe/Lisbon", "country": "PT"})
        ],
    )
    def patch(self, request: Request) -> Response:
        data = input_data(request, self.UpdateInputSerializer)
        user = services.user_update(user=request_user(request), **data)
        return Response(UserSerializer(user).data)

    @extend_schema(
        tags=["me"],
        summary="Erase your account (use POST /api/v1/me/erase/)",
        description=(
            "The same as POST /api/v1/me/erase/, for clients that send a body with DELETE. "
            "Most generated clients send none with DELETE, so they use the POST."
        ),
        request=EraseInputSerializer,
        deprecated=True,
        responses=ERASE_RESPONSES,
        examples=[ERASE_EXAMPLE],
    )
    def delete(self, request: Request) -> Response:
        return account_erase(request)


ERASE_DESCRIPTION = (
    "Re-enter the password. In one transaction the service destroys your data keys "
    "(nothing you wrote can be decrypted again by anyone), deletes your measures and push "
    "registrations, revokes every token and session and marks the account erased. Database "
    "backups taken earlier still hold the wrapped keys until they expire: see "
    "docs/architecture.md, 'Erasure'. This cannot be undone: export first "
    "(GET /api/v1/me/export/)."
)


def account_erase(request: Request) -> Response:
    """Both erase operations: the password re-entered, then `user_erase`."""
    data = input_data(request, EraseInputSerializer)
    services.user_erase(user=request_user(request), password=data["password"])
    return Response(status=status.HTTP_204_NO_CONTENT)


class EraseView(APIView):
    throttle_classes = [ScopedRateThrottleFailingOpen]
    throttle_scope = "password"

    @extend_schema(
        tags=["me"],
        operation_id="me_erase",
        summary="Erase your account and everything you wrote",
        description=ERASE_DESCRIPTION,
        request=EraseInputSerializer,
        responses=ERASE_RESPONSES,
        examples=[ERASE_EXAMPLE],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        return account_erase(request)


class EnrolmentView(AnonymousView):
    """A therapist's enrolment, before any sign-in: limited as tries of a second factor."""

    throttle_classes = [ScopedRateThrottleFailingOpen]
    throttle_scope = "otp"


# What both enrolment steps start with: the address and the code from the operator. (No
# docstring: the schema describes each step's input by the nearest one, StrictSerializer's.)
class EnrolmentCodeInput(StrictSerializer):
    email = AddressField()
    code = serializers.CharField(max_length=64, write_only=True)


# The address and code of both enrolment steps' examples (the same therapist enrolling).
ENROLMENT_CODE_EXAMPLE = {"email": "dr.berg@example.org", "code": "ABCDE-FGHJK-MNPQR-STVWX"}


class EnrolView(EnrolmentView):
    """A new therapist sets a password and starts an authenticator app."""

    class InputSerializer(EnrolmentCodeInput):
        password = password_field()

        class Meta:
            ref_name = "Enrol"

    class OutputSerializer(serializers.Serializer[Any]):
        otpauth_uri = serializers.CharField(
            help_text="Show as a QR code for the authenticator app."
        )
        secret = serializers.CharField(help_text="The same secret in base32, to type in.")

        class Meta:
            ref_name = "EnrolStarted"

    @extend_schema(
        tags=["auth"],
        summary="Therapists: set a password and start an authenticator app",
        description=(
            "Takes the one-time code from `manage.py create_therapist`. A wrong, used or "
            "expired code, or an unknown address, all answer the same 400 "
            "`invalid_enrolment_code`. Then confirm at /api/v1/auth/enrol/confirm/."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="Password set; app started."),
        },
        examples=[
            request_example(
                "Enrol", {**ENROLMENT_CODE_EXAMPLE, "password": "correct horse battery staple"}
            )
        ],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        device = services.therapist_enrol(**data)
        data = {
            "otpauth_uri": device.config_url,
            "secret": selectors.totp_secret_base32(device=device),
        }
        return Response(self.OutputSerializer(data).data)


class EnrolConfirmView(EnrolmentView):
    class InputSerializer(EnrolmentCodeInput):
        otp = serializers.CharField(max_length=10, write_only=True)

        class Meta:
            ref_name = "EnrolConfirm"

    class OutputSerializer(serializers.Serializer[Any]):
        user = UserSerializer()
        recovery_codes = serializers.ListField(
            child=serializers.CharField(),
            help_text=(
                "Ten single-use codes that sign in in place of the app's code (lost phone). "
                "Shown once: keep them somewhere safe."
            ),
        )

        class Meta:
            ref_name = "Enrolled"

    @extend_schema(
        tags=["auth"],
        summary="Therapists: confirm the authenticator app and finish enrolment",
        description=(
            "Send a current code from the app. The enrolment code is then spent, and ten "
            "recovery codes are returned, once; sign in at /api/v1/auth/login/ with the "
            "password and a code from the app (or a recovery code)."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="Enrolled: sign in now."),
            (409, PROBLEM): problem_openapi(
                "`enrolment_not_started`: call /api/v1/auth/enrol/ first."
            ),
        },
        examples=[request_example("Confirm", {**ENROLMENT_CODE_EXAMPLE, "otp": "123456"})],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        enrolled = services.therapist_enrol_confirm(**data)
        return Response(self.OutputSerializer(enrolled).data)


class TermsView(APIView):
    class InputSerializer(StrictSerializer):
        version = serializers.CharField(
            max_length=32, help_text="The version shown to the person: the current one."
        )

        class Meta:
            ref_name = "TermsAccept"

    @extend_schema(
        tags=["me"],
        summary="Accept the current terms and privacy notice",
        description=(
            "Records that you accepted `version`, which must be the current one "
            "(`terms.current_version` of /me/); another answers 400 on `version`. "
            "Accepting again changes nothing."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(TermsStateSerializer, description="Your terms state."),
            (400, PROBLEM): problem_openapi("`validation`: not the current version."),
        },
        examples=[request_example("Accept", {"version": "1"})],
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        user = request_user(request)
        terms.terms_accept(user=user, version=data["version"])
        return Response(TermsStateSerializer(terms.terms_state_for_user(user=user)).data)
