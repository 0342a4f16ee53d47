"""Accounts API: registration with a code by e-mail, and a change of address."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import registration
from backend.accounts.password_views import (
    CODE_REFUSED_TEXT,
    CODE_SENT_RESPONSE,
    AnonymousCodeView,
    AnonymousEmailView,
    code_field,
    code_sent,
)
from backend.accounts.serializers import (
    AddressField,
    SignInSerializer,
    UserSerializer,
    device_name_field,
    password_field,
    sign_in_data,
)
from backend.accounts.uniform import answers_in_uniform_time
from backend.api import PROBLEM, input_data, problem_openapi, request_example, request_user
from backend.serializers import CountryField, StrictSerializer, TimeZoneField
from backend.throttling import AddressRateThrottle, ScopedRateThrottleFailingOpen

REGISTERED_DETAIL = (
    "If this address can be used, a code is on its way to it: confirm it at "
    "/api/v1/auth/register/confirm/ with your password to sign this device in."
)
CHANGE_DETAIL = (
    "If the new address can be used, a code is on its way to it: confirm it at "
    "/api/v1/me/email/confirm/. Until then the account keeps its current address."
)


class RegisterView(AnonymousEmailView):
    """Patients register themselves; therapists are created by an operator."""

    throttle_scope = "register"

    class InputSerializer(StrictSerializer):
        email = AddressField()
        password = password_field()
        display_name = serializers.CharField(max_length=100)
        time_zone = TimeZoneField(required=False, default="UTC")
        country = CountryField(
            required=False,
            default="",
            allow_blank=True,
            help_text="Where you live (ISO 3166-1 alpha-2): the crisis lines shown follow it.",
        )
        accepted_terms_version = serializers.CharField(
            max_length=32,
            required=False,
            help_text="The version of the terms and privacy notice the person accepted in "
            "the app; it must be the current one. Without it, /me/ asks for acceptance.",
        )

        class Meta:
            ref_name = "Register"

    @extend_schema(
        tags=["auth"],
        summary="Register as a patient: a code goes to the address",
        description=(
            "Once the input is valid, answers 202 with the same body, in about the same "
            "time, for a new and for a taken address: nothing here tells whether an "
            "address has an account. A new address gets a code by e-mail; confirm it with "
            "the password at /api/v1/auth/register/confirm/, which signs this device in. "
            "The owner of a taken address gets an e-mail saying someone tried, and how to "
            "reset the password. Limited per address and per network address."
        ),
        request=InputSerializer,
        responses={
            202: CODE_SENT_RESPONSE,
            (400, PROBLEM): problem_openapi(
                "`validation`: a field is missing or invalid; `password_too_weak`: the "
                "password breaks a rule (see `errors`)."
            ),
        },
        examples=[
            request_example(
                "New patient",
                {
                    "email": "anna@example.org",
                    "password": "correct horse battery staple",
                    "display_name": "Anna",
                    "time_zone": "Europe/Berlin",
                },
            )
        ],
        extensions={"x-throttled": True},
    )
    @answers_in_uniform_time
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        registration.user_register(**data)
        return code_sent(REGISTERED_DETAIL)


class RegisterResendView(AnonymousEmailView):
    class InputSerializer(StrictSerializer):
        email = AddressField()

        class Meta:
            ref_name = "RegisterResend"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_register_resend",
        summary="A new code for a registration not yet confirmed",
        description=(
            "Answers 202 with the same body for every address. A registration not yet "
            "confirmed gets a new code (the previous one ends); any other address nothing."
        ),
        request=InputSerializer,
        responses={202: CODE_SENT_RESPONSE},
        examples=[request_example("Resend", {"email": "anna@example.org"})],
        extensions={"x-throttled": True},
    )
    @answers_in_uniform_time
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        registration.registration_code_resend(email=data["email"])
        return code_sent(REGISTERED_DETAIL)


class RegisterConfirmView(AnonymousCodeView):
    class InputSerializer(StrictSerializer):
        email = AddressField()
        code = code_field()
        password = password_field()
        device_name = device_name_field()

        class Meta:
            ref_name = "RegisterConfirm"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_register_confirm",
        summary="Confirm your address with the code and sign this device in",
        description=(
            "The code from the e-mail and the password chosen at registration. The address "
            "is then verified and a token for this device is returned. Until this is done "
            "the account cannot sign in (403 `email_not_verified` at /api/v1/auth/login/)."
        ),
        request=InputSerializer,
        responses={
            201: OpenApiResponse(SignInSerializer, description="Confirmed and signed in."),
            (400, PROBLEM): problem_openapi(CODE_REFUSED_TEXT),
            (401, PROBLEM): problem_openapi(
                "`invalid_credentials`: the code was right, the password is not."
            ),
        },
        examples=[
            request_example(
                "Confirm",
                {
                    "email": "anna@example.org",
                    "code": "1234 5678",
                    "password": "correct horse battery staple",
                    "device_name": "Anna's iPhone",
                },
            )
        ],
        extensions={"x-throttled": True},
    )
    @answers_in_uniform_time
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        issued = registration.user_register_confirm(request=request._request, **data)
        return Response(sign_in_data(issued), status=status.HTTP_201_CREATED)


class EmailChangeView(APIView):
    throttle_classes = [ScopedRateThrottleFailingOpen, AddressRateThrottle]
    throttle_scope = "password"
    address_throttle_scope = "account_email_address"
    address_throttle_field = "new_email"

    class InputSerializer(StrictSerializer):
        password = password_field()
        new_email = AddressField()

        class Meta:
            ref_name = "EmailChange"

    @extend_schema(
        tags=["me"],
        operation_id="me_email_change",
        summary="Change your address: a code goes to the new one",
        description=(
            "Needs the password. A code goes to the new address and a notice to the "
            "current one; the change takes effect only when the code is confirmed at "
            "/api/v1/me/email/confirm/. A new address that cannot be used gets no code, "
            "and the answer is the same."
        ),
        request=InputSerializer,
        responses={
            202: CODE_SENT_RESPONSE,
            (400, PROBLEM): problem_openapi("`invalid_password`: the password is not correct."),
        },
        examples=[
            request_example(
                "New address",
                {"password": "correct horse battery staple", "new_email": "a@example.net"},
            )
        ],
        extensions={"x-throttled": True},
    )
    @answers_in_uniform_time
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        registration.email_change_request(user=request_user(request), **data)
        return code_sent(CHANGE_DETAIL)


class EmailChangeConfirmView(APIView):
    throttle_classes = [ScopedRateThrottleFailingOpen]
    throttle_scope = "account_code"

    class InputSerializer(StrictSerializer):
        code = code_field()

        class Meta:
            ref_name = "EmailChangeConfirm"

    @extend_schema(
        tags=["me"],
        operation_id="me_email_change_confirm",
        summary="Confirm the new address with the code sent to it",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(UserSerializer, description="The account, at its new address."),
            (400, PROBLEM): problem_openapi(CODE_REFUSED_TEXT),
            (409, PROBLEM): problem_openapi(
                "`email_unavailable`: another account took the address in the meantime."
            ),
        },
        examples=[request_example("Confirm", {"code": "1234 5678"})],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        user = registration.email_change_confirm(user=request_user(request), code=data["code"])
        return Response(UserSerializer(user).data)
