"""E-mail to account holders: codes and notices, sent by the worker after commit.

How a message travels:

1. A service calls `account_email_queue(kind=..., user=..., account_code=...)` inside its
   transaction. Once that commits, the task `afterglow.accounts.send_email` is sent by its
   stable name (nothing here imports `worker`) with the kind and ids only: no address,
   name or code is ever in a broker message.
2. The worker's task calls `account_email_send`, which loads the account (and the code
   row), renders the plain-text and HTML templates of `accounts/email/<kind>`, and sends
   through Django's e-mail backend: the console in development (`make run` prints the
   code in the terminal), SMTP in production (EMAIL_* settings). A message goes to the
   account's address as it is when sent, but for two: a code for a new address goes to
   that address (the code's row holds it), and the notice of a change of address to the
   address the account had when the change was asked for (an `EmailChangeNotice` row,
   queued in its stead and deleted once sent), so that a notice sent after the change
   was confirmed (a retry, a backlog) still reaches the old mailbox, not the new one.
3. An SMTP or network error is raised to the task, which retries with backoff (a few
   minutes at most). A message that would be stale is not sent: a code that was replaced,
   used or has expired, an account that has gone.

A message carries the product's name, what happened, what to do if it was not you, and
never health detail: no journal text, no therapy word, no session. A repeat (a worker
that died after the mail server took the message) sends the same code again: the code is
derived from the row (backend.accounts.codes), not made anew.
"""

from __future__ import annotations

import enum
import logging
import smtplib
import zoneinfo
from datetime import datetime
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from backend.accounts import codes
from backend.accounts.models import AccountCode, EmailChangeNotice, User

logger = logging.getLogger(__name__)

# Stored in broker messages: never rename (worker/tasks.py).
SEND_EMAIL_TASK = "afterglow.accounts.send_email"
PRODUCT = "Afterglow"
# Transient: the mail server refused for now or could not be reached (smtplib's errors
# are OSErrors too; both are named for the reader). The task retries these.
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError)


class EmailKind(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a template name)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    REGISTRATION_CODE = "registration_code"
    REGISTRATION_ATTEMPT = "registration_attempt"
    EMAIL_CHANGE_CODE = "email_change_code"
    EMAIL_CHANGE_NOTICE = "email_change_notice"


SUBJECTS: dict[EmailKind, str] = {
    EmailKind.PASSWORD_RESET: "Your Afterglow password reset code",
    EmailKind.PASSWORD_CHANGED: "Your Afterglow password was changed",
    EmailKind.REGISTRATION_CODE: "Your Afterglow code to confirm your address",
    EmailKind.REGISTRATION_ATTEMPT: "Someone tried to register with your address at Afterglow",
    EmailKind.EMAIL_CHANGE_CODE: "Your Afterglow code to confirm your new address",
    EmailKind.EMAIL_CHANGE_NOTICE: "A new address was asked for your Afterglow account",
}
# The kinds that carry a code, and must not go out once it is stale.
WITH_CODE = frozenset(
    {EmailKind.PASSWORD_RESET, EmailKind.REGISTRATION_CODE, EmailKind.EMAIL_CHANGE_CODE}
)


def account_email_queue(
    *,
    kind: EmailKind,
    user: User,
    account_code: AccountCode | None = None,
    notice: EmailChangeNotice | None = None,
) -> None:
    """Send this e-mail from the worker once the current transaction commits. The row it
    is about (a code, or a change of address's notice) goes by its id."""
    row = account_code if account_code is not None else notice
    args = [str(kind), str(user.pk), str(row.pk) if row is not None else None]
    transaction.on_commit(partial(_enqueue, args))


def _enqueue(args: list[Any]) -> None:
    try:
        current_app.send_task(SEND_EMAIL_TASK, args=args)
    except Exception as error:  # the broker's errors vary by transport
        # Committed already; the person can ask again (a new code, a new e-mail).
        logger.warning(
            "account e-mail not queued",
            extra={"kind": args[0], "user_id": args[1], "error": type(error).__name__},
        )


def web_link(path: str) -> str:
    """An address on the web pages (DASHBOARD_PUBLIC_URL), or "" when none is set."""
    base = str(settings.DASHBOARD_PUBLIC_URL or "")
    if not base:
        return ""
    return base.rstrip("/") + "/" + path.lstrip("/")


def _local_time(user: User, moment: datetime | None = None) -> str:
    try:
        zone = zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = (moment or timezone.now()).astimezone(zone)
    return f"{local:%A %d %B %Y, %H:%M} ({local.tzname()})"


def _context(
    kind: EmailKind,
    user: User,
    account_code: AccountCode | None,
    notice: EmailChangeNotice | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "product": PRODUCT,
        "subject": SUBJECTS[kind],
        "display_name": user.display_name or "there",
        # A notice says when the change was asked for, not when the worker got to it.
        "when": _local_time(user, notice.created_at if notice is not None else None),
        "reset_link": web_link("password/forgot/"),
    }
    if account_code is not None:
        code = codes.code_for(account_code)
        context["code"] = codes.code_display(code)
        context["minutes"] = settings.ACCOUNT_CODE_TTL_MINUTES
        if kind == EmailKind.PASSWORD_RESET:
            context["link"] = web_link(f"password/reset/?code={code}")
    return context


def account_email_message(
    *, kind: str, user_id: str, row_id: str | None = None
) -> EmailMultiAlternatives | None:
    """The message to send now, or None when it would be stale. `row_id`: the code's row
    (the kinds with a code), or the notice's row (a change of address's notice)."""
    try:
        email_kind = EmailKind(kind)
    except ValueError:
        return None
    user = User.objects.filter(pk=user_id, is_active=True, erased_at__isnull=True).first()
    if user is None:
        return None
    account_code: AccountCode | None = None
    if email_kind in WITH_CODE:
        if row_id is None:
            return None
        account_code = AccountCode.objects.filter(
            pk=row_id, user=user, expires_at__gt=timezone.now()
        ).first()
        if account_code is None:
            return None
    notice: EmailChangeNotice | None = None
    if email_kind == EmailKind.EMAIL_CHANGE_NOTICE and row_id is not None:
        notice = EmailChangeNotice.objects.filter(pk=row_id, user=user).first()
        if notice is None:
            return None  # sent already (a repeat), or the account was erased
    # A code for a new address goes to that address; the notice of a change to the address
    # the account had when it was asked for; everything else to the account's.
    recipient = user.email
    if email_kind == EmailKind.EMAIL_CHANGE_CODE and account_code is not None:
        recipient = account_code.email
    elif notice is not None:
        recipient = notice.email
    context = _context(email_kind, user, account_code, notice)
    message = EmailMultiAlternatives(
        subject=SUBJECTS[email_kind],
        body=render_to_string(f"accounts/email/{email_kind}.txt", context).strip() + "\n",
        to=[recipient],
    )
    message.attach_alternative(
        render_to_string(f"accounts/email/{email_kind}.html", context), "text/html"
    )
    return message


def account_email_send(*, kind: str, user_id: str, row_id: str | None = None) -> bool:
    """Send one account e-mail now (the worker's task). Raises the mail server's
    transient errors, for the task to retry; returns whether a message went out. A
    notice's row, which holds an address, goes once the message is sent."""
    message = account_email_message(kind=kind, user_id=user_id, row_id=row_id)
    if message is None:
        logger.info("account e-mail skipped: stale", extra={"kind": kind, "user_id": user_id})
        return False
    message.send()
    if kind == EmailKind.EMAIL_CHANGE_NOTICE and row_id is not None:
        EmailChangeNotice.objects.filter(pk=row_id).delete()
    logger.info("account e-mail sent", extra={"kind": kind, "user_id": user_id})
    return True
