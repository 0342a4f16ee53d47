"""The therapists' dashboard pages. Read-only for patient data: the only POSTs sign in, sign
out, acknowledge a safety alert (the therapist's own flag: it writes no patient data) and
look after the therapist's own account (a forgotten password, a new one, recovery codes).

Every page that shows patient data calls one of the therapist selectors in
`integration.therapist.selectors`, which run the access check (`integration.care.access`)
and write the access event with the read (`via="dashboard"`); open safety alerts shown on a page are
such a read too. A refusal renders the same plain 404 page whatever its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.db.models import TextChoices
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser
from rest_framework.request import Request

from backend.accounts import passwords, recovery
from backend.accounts.models import User
from backend.accounts.uniform import uniform_duration
from backend.errors import ProblemError
from backend.throttling import AddressRateThrottle, ScopedRateThrottleFailingOpen
from integration.care import access, alerts
from integration.care import selectors as care_selectors
from integration.dashboard import charts
from integration.dashboard.forms import (
    ChangePasswordForm,
    ConfirmPasswordForm,
    ForgotPasswordForm,
    ResetPasswordForm,
    SignInForm,
    may_use_dashboard,
)
from integration.dashboard.middleware import dashboard_session_start, is_dashboard_session
from integration.models import PromptStatus
from integration.therapist import measures, selectors
from journal.instruments import Band
from journal.models import AFTER_EFFECTS, EntryKind, Modality, SessionStatus, Setting, Severity

VIA = "dashboard"

SHARE_STATE_LABELS = {
    care_selectors.ShareState.ACTIVE: "Active",
    care_selectors.ShareState.EXPIRED: "Expired",
    care_selectors.ShareState.REVOKED: "Revoked by the patient",
    care_selectors.ShareState.ENDED: "Care link ended",
}

TherapistView = Callable[..., HttpResponse]


def _is_signed_in(request: HttpRequest) -> bool:
    """A therapist whose session was opened by the dashboard sign-in, with TOTP."""
    is_verified = getattr(request.user, "is_verified", None)
    return (
        may_use_dashboard(request.user)
        and bool(is_verified and is_verified())
        and is_dashboard_session(request)
    )


def _page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    nav: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {"signed_in": _is_signed_in(request), "nav": nav, **(context or {})}
    return render(request, f"dashboard/{template}", context, status=status)


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The one "not found" page: for a page that does not exist, and for one the access
    check refused for any reason (not linked, not shared, revoked, expired)."""
    return _page(request, "404.html", status=404)


def therapist_required(view: TherapistView) -> TherapistView:
    """Let a signed-in therapist through (passing them to the view); send anyone else to
    the sign-in page, with this page to come back to."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        therapist = request.user
        if not (_is_signed_in(request) and isinstance(therapist, User)):
            return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))
        try:
            return view(request, therapist, *args, **kwargs)
        except (NotFound, Http404):
            return not_found(request)

    return wrapped


def _next_page(request: HttpRequest) -> str:
    """Where to go after sign-in: the dashboard page asked for, else the patient list."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    is_safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if is_safe and wanted.startswith(settings.DASHBOARD_URL):
        return wanted
    return reverse("dashboard:patients")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "code")
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    if _is_signed_in(request):
        return HttpResponseRedirect(_next_page(request))
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and form.user is not None:
        # login() rotates the session key (a planted session id is worthless) and flushes
        # another user's session; then django-otp marks the session verified.
        login(request, form.user)
        django_otp.login(request, form.device)
        dashboard_session_start(request)
        if form.used_recovery_code:
            left = recovery.recovery_codes_remaining(user=form.user)
            messages.warning(
                request,
                f"You signed in with a recovery code; {left} left. If your phone is lost, "
                "make a new set under Account.",
            )
        return HttpResponseRedirect(_next_page(request))
    status = 429 if form.is_locked_out else 200
    return _page(request, "login.html", {"form": form, "next": _next_page(request)}, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    was_signed_in = request.user.is_authenticated
    logout(request)
    if was_signed_in:
        messages.success(request, "You have signed out.")
    return HttpResponseRedirect(reverse("dashboard:login"))


@require_GET
@therapist_required
def patient_list(request: HttpRequest, therapist: User) -> HttpResponse:
    patients = selectors.linked_patients_for_therapist(
        therapist=therapist, request=request, via=VIA
    )
    open_alerts = selectors.open_safety_alerts_for_therapist(
        therapist=therapist, request=request, via=VIA
    )
    shares = selectors.readable_shares_by_patient(
        therapist=therapist,
        patient_ids=[patient.patient_id for patient in patients],
        request=request,
        via=VIA,
    )
    rows = [
        {
            "patient": patient,
            "alerts": open_alerts.get(patient.patient_id, []),
            "shares": shares[patient.patient_id],
        }
        for patient in patients
    ]
    return _page(request, "patient_list.html", {"rows": rows}, nav="patients")


def _patient_alerts(
    request: HttpRequest, therapist: User, patient_id: Any
) -> list[selectors.SafetyAlertView]:
    """The open safety alerts of the patient a page is about (the read is logged)."""
    return selectors.open_safety_alerts_for_therapist(
        therapist=therapist, request=request, via=VIA, patient_ids=[patient_id]
    ).get(patient_id, [])


@require_POST
@therapist_required
def safety_alert_acknowledge(request: HttpRequest, therapist: User, alert_id: str) -> HttpResponse:
    """The dashboard's one write about a patient: the therapist marks an alert seen. Back
    to the page it was shown on."""
    alerts.safety_alert_acknowledge(therapist=therapist, alert_id=alert_id)
    messages.success(request, "Safety alert acknowledged.")
    return HttpResponseRedirect(_next_page(request))


@require_GET
@therapist_required
def share_history(request: HttpRequest, therapist: User, patient_id: str) -> HttpResponse:
    history = selectors.share_history_for_therapist(
        therapist=therapist, patient_id=patient_id, request=request, via=VIA
    )
    # Only the patient's name, which the link itself lets the therapist see (as on the
    # patient list); the selector has checked the link and written the access event.
    link = access.therapist_link_for_patient(therapist=therapist, patient_id=patient_id)
    rows = [
        {**_fields(item), "state_label": SHARE_STATE_LABELS.get(item.state, item.state)}
        for item in history
    ]
    context = {
        "patient_id": link.patient_id,
        "patient_name": link.patient.display_name,
        "alerts": _patient_alerts(request, therapist, link.patient_id),
    }
    return _page(request, "share_history.html", {**context, "history": rows})


def _fields(item: Any) -> dict[str, Any]:
    """A selector's dataclass as a template context (shallow: values stay as they are)."""
    return {field.name: getattr(item, field.name) for field in dataclasses.fields(item)}


def _label(choices: type[TextChoices], value: str | None) -> str:
    if not value:
        return ""
    labels: dict[str, str] = dict(choices.choices)
    return labels.get(value, value)


def _entries(entries: list[selectors.SharedEntryView]) -> list[dict[str, Any]]:
    return [{**_fields(entry), "kind_label": _label(EntryKind, entry.kind)} for entry in entries]


@require_GET
@therapist_required
def share_detail(request: HttpRequest, therapist: User, share_id: str) -> HttpResponse:
    content = selectors.share_content_for_therapist(
        therapist=therapist, share_id=share_id, request=request, via=VIA
    )
    session = content.dosing_session
    recorded = session.after_effects if session is not None else None
    after_effects = [
        {"name": name.replace("_", " ").capitalize(), "grade": _label(Severity, recorded[name])}
        for name in AFTER_EFFECTS
        if recorded is not None and name in recorded
    ]
    grouped = (EntryKind.INTENTION, EntryKind.REFLECTION, EntryKind.EXERCISE)
    context = {
        "content": content,
        "session": session,
        "session_modality": _label(Modality, session.modality if session else None),
        "session_setting": _label(Setting, session.setting if session else None),
        "session_status": _label(SessionStatus, session.status if session else None),
        "after_effects": after_effects,
        # The selector gives entries in time order; each group keeps it.
        "intentions": _entries([e for e in content.entries if e.kind == EntryKind.INTENTION]),
        "reflections": _entries([e for e in content.entries if e.kind == EntryKind.REFLECTION]),
        "exercise_answers": _entries([e for e in content.entries if e.kind == EntryKind.EXERCISE]),
        "other_entries": _entries([e for e in content.entries if e.kind not in grouped]),
        "prompts": [
            {**_fields(prompt), "status_label": _label(PromptStatus, prompt.status)}
            for prompt in content.prompts
        ],
        "prompts_completed": sum(
            prompt.status == PromptStatus.COMPLETED for prompt in content.prompts
        ),
        "alerts": _patient_alerts(request, therapist, content.patient_id),
    }
    return _page(request, "share_detail.html", context)


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "Not applicable"
    return "Yes" if value else "No"


def _signed(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "Not applicable"
    text = f"{value:+g}".replace("-", "\u2212") if value else "0"
    return f"{text}{suffix}"


@require_GET
@therapist_required
def share_measures(request: HttpRequest, therapist: User, share_id: str) -> HttpResponse:
    content = measures.share_measures_for_therapist(
        therapist=therapist, share_id=share_id, request=request, via=VIA
    )
    zone = timezone.get_current_timezone()
    instruments = [
        {
            "series": series,
            "chart": charts.measure_chart_svg(
                series,
                dosing_sessions=content.dosing_sessions,
                zone=zone,
                chart_id=f"chart-{series.instrument}",
            ),
            "rows": [
                {
                    **_fields(point),
                    "band_label": _label(Band, point.band),
                    "change": _signed(point.change_from_baseline),
                    "percent": _signed(point.percent_change, "\u00a0%"),
                    "response": _yes_no(point.is_response),
                    "remission": _yes_no(point.is_remission),
                }
                for point in series.points
            ],
        }
        for series in content.series
    ]
    context = {
        "content": content,
        "instruments": instruments,
        "alerts": _patient_alerts(request, therapist, content.patient_id),
    }
    return _page(request, "share_measures.html", context)


# The therapist's own account: a forgotten password, a new one, recovery codes --------


def _throttled(request: HttpRequest, scope: str, address_scope: str | None = None) -> bool:
    """The API's rate limits, for a form: per network address, and per e-mail address
    when the form names one."""

    class Limits:
        throttle_scope = scope
        address_throttle_scope = address_scope

    form_request = Request(request, parsers=[FormParser()])
    # DRF's request would otherwise authenticate (with no authenticators: anonymous) and
    # write that back onto the Django request's user.
    form_request.user = request.user
    throttles: list[ScopedRateThrottleFailingOpen] = [ScopedRateThrottleFailingOpen()]
    if address_scope is not None:
        throttles.append(AddressRateThrottle())
    return not all(throttle.allow_request(form_request, Limits()) for throttle in throttles)


def _refusal_shown(form: forms.Form, error: ProblemError) -> None:
    """A service's refusal on the form, in the API's words: field messages on their
    fields, the problem's detail above the form."""
    for field, field_messages in error.extra.get("errors", {}).items():
        name = field if field in form.fields else None
        for message in field_messages:
            form.add_error(name, message)
    if not error.extra.get("errors"):
        form.add_error(None, error.problem_detail)


TOO_MANY = "Too many requests. Try again later."


def _throttled_page(
    request: HttpRequest,
    form: forms.Form,
    template: str,
    scope: str,
    address_scope: str | None = None,
) -> HttpResponse | None:
    """The form's page answering 429 when the request is over its rate limit (the form's
    own errors shown too, under the limit's message); None when it may go on."""
    if not _throttled(request, scope, address_scope):
        return None
    form.is_valid()
    form.add_error(None, TOO_MANY)
    return _page(request, template, {"form": form}, status=429)


@require_http_methods(["GET", "POST"])
@never_cache
def password_forgot(request: HttpRequest) -> HttpResponse:
    """The same page after the request for every address, in the same time."""
    form = ForgotPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        refused = _throttled_page(
            request, form, "password_forgot.html", "account_email", "account_email_address"
        )
        if refused is not None:
            return refused
        with uniform_duration():
            if form.is_valid():
                passwords.password_reset_request(email=form.cleaned_data["email"])
        if form.is_valid():
            return _page(request, "password_forgot_sent.html")
    return _page(request, "password_forgot.html", {"form": form})


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code", "new_password", "new_password_again")
@never_cache
def password_reset(request: HttpRequest) -> HttpResponse:
    """The page the reset e-mail links to (the code in the link fills its field)."""
    if request.method == "POST":
        form = ResetPasswordForm(request.POST)
    else:
        form = ResetPasswordForm(initial={"code": request.GET.get("code", "")[:32]})
    if request.method == "POST":
        refused = _throttled_page(
            request, form, "password_reset.html", "account_code", "account_code_address"
        )
        if refused is not None:
            return refused
        if form.is_valid():
            try:
                with uniform_duration():
                    passwords.password_reset_confirm(
                        email=form.cleaned_data["email"],
                        code=form.cleaned_data["code"],
                        new_password=form.cleaned_data["new_password"],
                    )
            except ProblemError as error:
                _refusal_shown(form, error)
            else:
                messages.success(
                    request,
                    "Your new password is set, and every device was signed out. Sign in "
                    "with it and your authenticator app.",
                )
                return HttpResponseRedirect(reverse("dashboard:login"))
    return _page(request, "password_reset.html", {"form": form})


@require_GET
@therapist_required
def account(request: HttpRequest, therapist: User) -> HttpResponse:
    remaining = recovery.recovery_codes_remaining(user=therapist)
    return _page(request, "account.html", {"remaining": remaining}, nav="account")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("current_password", "new_password", "new_password_again")
@therapist_required
def password_change(request: HttpRequest, therapist: User) -> HttpResponse:
    form = ChangePasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        refused = _throttled_page(request, form, "password_change.html", "password")
        if refused is not None:
            return refused
        if form.is_valid():
            try:
                passwords.user_change_password(
                    user=therapist,
                    current_password=form.cleaned_data["current_password"],
                    new_password=form.cleaned_data["new_password"],
                )
            except ProblemError as error:
                _refusal_shown(form, error)
            else:
                # This session stays signed in; every other one has ended.
                update_session_auth_hash(request, therapist)
                messages.success(
                    request, "Your password is changed. Every other device was signed out."
                )
                return HttpResponseRedirect(reverse("dashboard:account"))
    return _page(request, "password_change.html", {"form": form}, nav="account")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password")
@therapist_required
def recovery_codes(request: HttpRequest, therapist: User) -> HttpResponse:
    """A new set, shown once on this answer (never stored in the page's cache)."""
    form = ConfirmPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        refused = _throttled_page(request, form, "recovery_codes.html", "password")
        if refused is not None:
            return refused
        if form.is_valid():
            try:
                codes = recovery.recovery_codes_regenerate(
                    user=therapist, password=form.cleaned_data["password"]
                )
            except ProblemError as error:
                _refusal_shown(form, error)
            else:
                return _page(request, "recovery_codes_new.html", {"codes": codes}, nav="account")
    return _page(request, "recovery_codes.html", {"form": form}, nav="account")
