"""Accounts API: change the password (signed in), and reset it with a code by e-mail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import passwords
from backend.accounts.serializers import AddressField, password_field
from backend.accounts.uniform import answers_in_uniform_time
from backend.api import (
    PROBLEM,
    AnonymousView,
    input_data,
    problem_openapi,
    request_device_token,
    request_example,
    request_user,
)
from backend.serializers import StrictSerializer
from backend.throttling import AddressRateThrottle, ScopedRateThrottleFailingOpen

CODE_SENT_DETAIL = (
    "If this address belongs to an account, a code is on its way to it. It works once, "
    "for a limited time."
)
CODE_REFUSED_TEXT = (
    "`invalid_code`: the code or the address is not correct (the same answer for an "
    "address without an account); `code_expired`: the right code, too late; "
    "`too_many_attempts`: the right code, after too many wrong ones. Ask for a new code."
)
RULES_BROKEN_TEXT = (
    "`password_too_weak`: the new password breaks a rule (length, too common, too like "
    "the address or name, only digits); `errors` says which. Checked once the code is right."
)


def code_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=32, write_only=True, help_text="The code from the e-mail (spaces are ignored)."
    )


class CodeSentSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()

    class Meta:
        ref_name = "CodeSent"


# The answer that tells nothing about whether the address has an account.
CODE_SENT_RESPONSE = OpenApiResponse(CodeSentSerializer, description="Same for every address.")


def code_sent(detail: str) -> Response:
    """That answer (202): the same `detail` whether or not a code went out."""
    return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class AnonymousEmailView(AnonymousView):
    """No sign-in; limited per network address and per e-mail address."""

    throttle_classes = [ScopedRateThrottleFailingOpen, AddressRateThrottle]
    throttle_scope = "account_email"
    address_throttle_scope = "account_email_address"


class AnonymousCodeView(AnonymousEmailView):
    """No sign-in; a code from an e-mail is tried: limited as tries of a code."""

    throttle_scope = "account_code"
    address_throttle_scope = "account_code_address"


class PasswordChangeView(APIView):
    throttle_classes = [ScopedRateThrottleFailingOpen]
    throttle_scope = "password"

    class InputSerializer(StrictSerializer):
        current_password = password_field()
        new_password = password_field()

        class Meta:
            ref_name = "PasswordChange"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_change",
        summary="Change your password",
        description=(
            "The current password and a new one (the rules of registration). Every other "
            "device and web session of the account is signed out at once; the token (or "
            "session) that made the change keeps working. The owner gets an e-mail saying "
            "the password changed."
        ),
        request=InputSerializer,
        responses={
            204: OpenApiResponse(description="Changed; other devices are signed out."),
            (400, PROBLEM): problem_openapi(
                "`invalid_password`: the current password is not correct; "
                "`password_too_weak`: the new one breaks a rule (see `errors`)."
            ),
        },
        examples=[
            request_example(
                "Change",
                {
                    "current_password": "correct horse battery staple",
                    "new_password": "a longer and newer passphrase",
                },
            )
        ],
        extensions={"x-throttled": True},
    )
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        token = request_device_token(request)
        user = passwords.user_change_password(user=request_user(request), keep_token=token, **data)
        if token is None:
            # A web session: keep this one signed in with the new auth hash.
            update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRequestView(AnonymousEmailView):
    class InputSerializer(StrictSerializer):
        email = AddressField()

        class Meta:
            ref_name = "PasswordReset"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset_request",
        summary="Forgot your password: get a code by e-mail",
        description=(
            "Always answers 202 with the same body, in about the same time, whether or not "
            "the address has an account. When it has, an e-mail carries an 8-digit code "
            "(and a link for the web) that works once, for 30 minutes by default; a new "
            "request replaces the previous code. Then call "
            "/api/v1/auth/password/reset/confirm/. Limited per address and per network "
            "address (429 `throttled`)."
        ),
        request=InputSerializer,
        responses={202: CODE_SENT_RESPONSE},
        examples=[request_example("Forgot", {"email": "anna@example.org"})],
        extensions={"x-throttled": True},
    )
    @answers_in_uniform_time
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        passwords.password_reset_request(email=data["email"])
        return code_sent(CODE_SENT_DETAIL)


class PasswordResetConfirmView(AnonymousCodeView):
    class InputSerializer(StrictSerializer):
        email = AddressField()
        code = code_field()
        new_password = password_field()

        class Meta:
            ref_name = "PasswordResetConfirm"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset_confirm",
        summary="Set a new password with the code from the e-mail",
        description=(
            "Every token and web session of the account ends, the account's sign-in "
            "lock-out is cleared and the code is spent; the journal stays readable (its "
            "keys do not depend on the password). Then sign in with the new password; a "
            "therapist still needs the authenticator app or a recovery code. A wrong code "
            "counts towards the code's few tries."
        ),
        request=InputSerializer,
        responses={
            204: OpenApiResponse(description="The new password is set: sign in with it."),
            (400, PROBLEM): problem_openapi(f"{CODE_REFUSED_TEXT} {RULES_BROKEN_TEXT}"),
        },
        examples=[
            request_example(
                "Reset",
                {
                    "email": "anna@example.org",
                    "code": "1234 5678",
                    "new_password": "a longer and newer passphrase",
                },
            )
        ],
        extensions={"x-throttled": True},
    )
    @answers_in_uniform_time
    def post(self, request: Request) -> Response:
        data = input_data(request, self.InputSerializer)
        passwords.password_reset_confirm(**data)
        return Response(status=status.HTTP_204_NO_CONTENT)
