"""Accounts: users (patients and therapists), device tokens and therapist enrolment."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken


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
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

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
