"""Admin for accounts: users, and the metadata (never the secrets) of tokens and codes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from backend.accounts.models import DeviceToken, EnrolmentCode, User
from backend.accounts.services import email_normalized

# Django's admin and form classes are generic only to the type checker.
if TYPE_CHECKING:
    _CreationForm = AdminUserCreationForm[User]
    _ChangeForm = UserChangeForm[User]
    _UserAdmin = DjangoUserAdmin[User]
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _CreationForm = AdminUserCreationForm
    _ChangeForm = UserChangeForm
    _UserAdmin = DjangoUserAdmin
    _ModelAdmin = admin.ModelAdmin


class UserCreationForm(_CreationForm):
    class Meta:
        model = User
        fields = ("email", "display_name", "time_zone", "role")

    def clean_email(self) -> str:
        # Stored lower-case, as UserManager does, so sign-in finds the account.
        return email_normalized(self.cleaned_data["email"])


class UserEditForm(_ChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        # A changed address too: sign-in looks the account up lower-case.
        return email_normalized(self.cleaned_data["email"])


@admin.register(User)
class UserAdmin(_UserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("email", "display_name", "role", "is_staff", "is_active", "created_at")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("email", "display_name")
    ordering = ("-created_at",)
    readonly_fields = ("created_at", "last_login", "erased_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "time_zone", "role")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("created_at", "last_login", "erased_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "display_name",
                    "time_zone",
                    "role",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )


class _ReadOnlyAdmin(_ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeviceToken)
class DeviceTokenAdmin(_ReadOnlyAdmin):
    """A list only: a token's primary key is its digest, which would otherwise appear in
    every link and checkbox. To cut off a device, deactivate the user (tokens of inactive
    users are refused) or have them revoke it from the app."""

    list_display = (
        "token_key",
        "user__email",
        "device_name",
        "is_second_factor_verified",
        "created",
        "last_used_at",
        "expiry",
    )
    list_display_links = None
    list_select_related = ("user",)
    search_fields = ("user__email", "device_name")
    actions = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EnrolmentCode)
class EnrolmentCodeAdmin(_ReadOnlyAdmin):
    list_display = ("id", "user__email", "created_at", "expires_at", "used_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    fields = ("user", "created_at", "expires_at", "used_at")
    readonly_fields = fields
