"""The password check behind `django.contrib.auth.authenticate`, for every way in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from backend.accounts.models import User

# Set on the request when the password was right for a deactivated account.
INACTIVE_MARK = "afterglow_account_inactive"


class AccountBackend(ModelBackend):
    """Django's ModelBackend, which also notes on the request that the password was right
    for a deactivated account: sign-in then says so, to the holder of the password only.

    One password check, as before: an unknown address still costs a hash (Django's way of
    keeping the time the same), and the sign-in still fails (django-axes counts it).
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            User().set_password(password)
            return None
        if not user.check_password(password):
            return None
        if self.user_can_authenticate(user):
            return user
        if request is not None and user.erased_at is None:
            setattr(request, INACTIVE_MARK, True)
        return None


def is_marked_inactive(request: HttpRequest) -> bool:
    return bool(getattr(request, INACTIVE_MARK, False))
