"""Re-wrap every patient's data key under the newest key-encryption key.

    python manage.py rotate_kek [--batch-size 500] [--dry-run]

Put the new KEK first in JOURNAL_KEKS (keeping the old ones after it), deploy, then run
this. It is resumable and idempotent: it only takes keys not yet under the active KEK, so
it can be stopped and started again, or run by two operators at once. When it reports
zero keys left, the old KEK can be removed from JOURNAL_KEKS.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from journal.keys import kek_rotate_batch, kek_rotation_remaining, keyring


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else int(width * done / total)
    percent = 100 if total == 0 else int(100 * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({percent}%)"


class Command(BaseCommand):
    help = "Re-wrap every data key under the active (first) key-encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the keys left to re-wrap."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        active = keyring().active_version
        total = kek_rotation_remaining()
        self.stdout.write(f"Active KEK: version {active}. Data keys to re-wrap: {total}.")
        if options["dry_run"] or total == 0:
            self.stdout.write(f"Keys left under older KEKs: {total}")
            return
        done = 0
        while True:
            moved = kek_rotate_batch(batch_size=options["batch_size"])
            if moved == 0:
                break
            done += moved
            if sys.stdout.isatty():
                self.stdout.write("\r" + progress_bar(done, total), ending="")
            else:
                self.stdout.write(progress_bar(done, total))
        left = kek_rotation_remaining()
        self.stdout.write("")
        self.stdout.write(f"Re-wrapped {done} data keys. Keys left under older KEKs: {left}")
        if left:
            self.stdout.write("Some keys were held by another runner: run the command again.")
