"""A real SMTP server for tests: aiosmtpd in a process of its own, on a free loopback port,
keeping every message it accepts in a maildir that the test reads.

`SmtpServer(directory, refuse_first=N)` answers the first N messages with a temporary
failure (451), as a mail server that is busy or greylisting does, and accepts the rest.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.handlers import Mailbox

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
CODE_PATTERN = re.compile(r"\b(\d{4}) (\d{4})\b")


class RefusingMailbox(Mailbox):
    """A maildir handler that answers `451` to the first messages (a count kept in a file,
    so it holds across connections)."""

    def __init__(self, mail_dir: str, refuse_first: str = "0") -> None:
        super().__init__(Path(mail_dir))
        self.counter = Path(mail_dir).with_suffix(".refused")
        self.refuse_first = int(refuse_first)

    @classmethod
    def from_cli(cls, parser: Any, *args: str) -> RefusingMailbox:
        return cls(*args)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refused = int(self.counter.read_text()) if self.counter.exists() else 0
        if refused < self.refuse_first:
            self.counter.write_text(str(refused + 1))
            return "451 4.3.0 Try again later"
        result: str = await super().handle_DATA(server, session, envelope)
        return result


@dataclass(frozen=True)
class Received:
    """A message as the mail server received it."""

    to: str
    subject: str
    text: str
    html: str
    raw: str

    @property
    def code(self) -> str:
        """The 8-digit code the message carries, as it would be typed."""
        match = CODE_PATTERN.search(self.text)
        assert match is not None, f"no code in: {self.text}"
        return match.group(1) + match.group(2)


class SmtpServer:
    def __init__(self, directory: Path, *, refuse_first: int = 0) -> None:
        self.maildir = directory / "maildir"
        self.port = free_port()
        self.refuse_first = refuse_first
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "smtp.log"

    def __enter__(self) -> SmtpServer:
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"),
                    *("-c", "tests.smtp.RefusingMailbox", str(self.maildir)),
                    str(self.refuse_first),
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(self.log.read_text()) from None
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def messages(self) -> list[Received]:
        if not self.maildir.exists():
            return []
        received = []
        for raw in mailbox.Maildir(self.maildir, create=False):
            message = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            text = message.get_body(preferencelist=("plain",))
            html = message.get_body(preferencelist=("html",))
            received.append(
                Received(
                    to=str(message["To"]),
                    subject=str(message["Subject"]),
                    text=text.get_content() if text is not None else "",
                    html=html.get_content() if html is not None else "",
                    raw=raw.as_string(),
                )
            )
        return received

    def messages_to(self, address: str) -> list[Received]:
        return [message for message in self.messages() if message.to == address]

    def clear(self) -> None:
        if self.maildir.exists():
            mailbox.Maildir(self.maildir, create=False).clear()
