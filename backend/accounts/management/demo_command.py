"""The base of the commands that write demo data: they refuse to run unless DEBUG is on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class DemoCommand(BaseCommand):
    """Adds `--allow-without-debug` (a demo server) and refuses to run without DEBUG or it;
    then runs `handle_demo`. `writes` says what the command writes, in the refusal."""

    writes = "writes demo data"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Run even though DEBUG is off (a demo server, never production).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_without_debug"]:
            name = type(self).__module__.rsplit(".", 1)[-1]
            raise CommandError(
                f"{name} {self.writes}; it runs only with DEBUG=true (or "
                "--allow-without-debug on a demo server)."
            )
        self.handle_demo(**options)

    def handle_demo(self, **options: Any) -> None:
        raise NotImplementedError
