"""Accounts: users (patients and therapists), device tokens and therapist enrolment."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from knox.models import AbstractAuthToken

from backend.accounts.countries import validate_country


def is_known_time_zone(value: str) -> bool:
    return value in _available_time_zones()


def validate_time_zone(value: str) -> None:
    """Accept IANA zone names only ("Europe/Berlin"), as the app schedules in local time.

    The message does not repeat the value: errors never echo what a client sent."""
    if not is_known_time_zone(value):
        raise ValidationError("Not a known IANA time zone name.", code="invalid")


_ZONES: set[str] = set()


def _available_time_zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(zoneinfo.available_timezones())
    return _ZONES


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    THERAPIST = "therapist", "Therapist"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        # Operators make accounts this way (createsuperuser, the admin): they vouch for
        # the address. Registration proves it with a code instead.
        extra.setdefault("email_verified_at", timezone.now())
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", Role.PATIENT)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. The role says what they may do; staff is separate."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True, max_length=254)
    display_name = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Where the patient lives (ISO 3166-1 alpha-2), for the crisis lines they are shown;
    # empty until they say. The time zone only suggests one (accounts.countries).
    country = models.CharField(max_length=2, blank=True, default="", validators=[validate_country])
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True)
    # When the owner of the address proved it (a code sent there, typed back). A patient
    # who registered cannot sign in before (backend/accounts/registration.py).
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Mixed into every session's auth hash (get_session_auth_hash): moving it makes every
    # existing session of the account invalid at once, whatever the session backend.
    # Only services.user_end_all_sessions moves it, with an UPDATE of this column alone.
    session_epoch = models.PositiveBigIntegerField(default=0, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    # (password hash, is_active) for which every session was last ended through this
    # instance: a save that changes nothing beyond that does not end them again.
    _sessions_ended_for: tuple[str, bool] | None = None

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["patient", "therapist"]), name="user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_therapist(self) -> bool:
        return self.role == Role.THERAPIST

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_session_auth_hash(self) -> str:
        return self._session_auth_hash(secret=None)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_auth_hash(secret=secret)

    def _session_auth_hash(self, *, secret: str | bytes | None) -> str:
        # Django's hash covers the password hash only; the epoch is ours, so that signing
        # out everywhere, deactivation and erasure end sessions too (not only a new password).
        return salted_hmac(
            "afterglow.accounts.User.session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def sessions_ended(self) -> None:
        """Record that every session was just ended for the credentials held now."""
        self._sessions_ended_for = (self.password, self.is_active)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, and end every token and session of the account when this save sets a
        new password (set_password, as the admin and Django's forms do) or an unusable one,
        or saves it inactive: whatever path made the change, no sign-in outlives it.

        A password hash upgraded at sign-in is not a change (Django saves it without
        recording a new password). A full save of an existing account leaves
        `session_epoch` out: an instance loaded before a "sign out everywhere" must not
        write the older epoch back and revive the sessions it ended.
        """
        update_fields = kwargs.get("update_fields")
        ends_sessions = self._saves_credential_change(update_fields)
        full_update = update_fields is None and not self._state.adding
        if full_update and not args and not kwargs.get("force_insert"):
            deferred = self.get_deferred_fields()
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key
                and field.name != "session_epoch"
                and field.attname not in deferred
            ]
        if not ends_sessions:
            super().save(*args, **kwargs)
            return
        # Services import this module; importing here keeps the imports one way.
        from backend.accounts.services import user_end_all_sessions

        with transaction.atomic():
            super().save(*args, **kwargs)
            user_end_all_sessions(user=self)

    def _saves_credential_change(self, update_fields: Any) -> bool:
        if self._state.adding:
            return False  # a new account has no sessions yet
        if self._sessions_ended_for == (self.password, self.is_active):
            return False
        fields = {"password", "is_active"} if update_fields is None else set(update_fields)
        # Django's marker of a password set since the last save (None after a hash upgrade).
        new_password = getattr(self, "_password", None) is not None
        password_changed = "password" in fields and (new_password or not self.has_usable_password())
        deactivated = "is_active" in fields and not self.is_active
        return password_changed or deactivated


class DeviceToken(AbstractAuthToken):  # type: ignore[misc]
    """An API token for one device: hashed at rest (knox), named, and marked with whether
    the second factor was checked when it was issued."""

    if TYPE_CHECKING:
        # knox ships no types; this lets the type checker resolve `user.auth_token_set`.
        _default_manager: ClassVar[models.Manager[DeviceToken]]
    device_name = models.CharField(max_length=100, default="unnamed device")
    is_second_factor_verified = models.BooleanField(default=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"token {self.token_key} of {self.user_id}"


class EnrolmentCode(models.Model):
    """A one-time code that lets a new therapist set a password and enrol TOTP.

    Only a hash of the code is stored.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrolment_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"enrolment code {self.id}"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class TermsAcceptance(models.Model):
    """A user accepted a version of the terms and privacy notice (`settings.TERMS_VERSION`)
    at a time: one row per version accepted, kept as the record of what they agreed to."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="terms_acceptances")
    version = models.CharField(max_length=32)
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-accepted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="terms_accepted_once"),
        ]

    def __str__(self) -> str:
        return f"terms {self.version} accepted by {self.user_id}"


class CodePurpose(models.TextChoices):
    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_VERIFY = "email_verify", "Address verification at registration"
    EMAIL_CHANGE = "email_change", "Change of address"


class AccountCode(models.Model):
    """A short code sent by e-mail (a password reset, an address to verify), confirmed by
    typing it in.

    The code itself is stored nowhere: `seed` is random, and the code is a keyed digest of
    it under a key derived from SECRET_KEY (backend.accounts.codes), so the worker can
    write it into the e-mail from this row's id alone, and the database alone gives no
    code. One row per (user, purpose): the newest request replaces the older code.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_codes")
    purpose = models.CharField(max_length=32, choices=CodePurpose.choices)
    # A change of address: the new address, where the code goes (empty otherwise).
    email = models.EmailField(max_length=254, blank=True)
    seed = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose"], name="account_code_one_per_purpose"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} code {self.id}"


class EmailChangeNotice(models.Model):
    """The notice of a change of address asked for, until the worker has sent it: the
    address the account had then, where the notice goes (the alarm, for its owner, when
    someone else with the password asked). It is kept here, not in the code's row, because
    the notice must outlive the code (typed in, replaced by the next request, or ended by
    a new password before the worker gets to the notice), and not in the task's message,
    which holds ids only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_change_notices")
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"change of address notice {self.id}"
