"""Accounts: the fields that the web pages' forms share (the admin's, the dashboard's)."""

from __future__ import annotations

from typing import Any

from django import forms


class AddressField(forms.EmailField):
    """An e-mail address typed into a web form, as accounts compare and store it: trimmed
    and lower-case. The length and address checks run on that form, as the API's
    `backend.accounts.serializers.AddressField` does, so an address that only grows past
    254 characters when lower-cased ("İ" becomes two characters) is the field's error,
    not an over-long value for a column further on (the lock-out's account)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).lower()
