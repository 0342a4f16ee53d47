"""Prompts in the offline sync feed (a `journal.sync.sources` source).

A prompt is reported with the change number its last app-visible write gave it
(`integration.changes`): made, moved, snoozed, opened, sent, completed or answered late,
skipped, expired, cancelled, revived. The dispatcher's claim (`sending`) is its own
bookkeeping: the feed reports such a prompt as `scheduled` until it is sent, so the
record a change number stands for never changes under it. Prompts are never deleted while
the account lives: one the app should no longer show is `cancelled`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import TextChoices

from backend.accounts.models import User
from backend.serializers import EnumField
from integration.models import Prompt, PromptStatus
from integration.prompts.serializers import PromptSerializer, prompt_data
from journal.api import represent
from journal.sync.serializers import SyncChangeSerializer
from journal.sync.sources import SourceChange, SyncSource


class PromptChangeType(TextChoices):
    PROMPT = "prompt", "Prompt"


class PromptChangeSerializer(SyncChangeSerializer):
    """A prompt made, moved, snoozed, opened, sent, completed (or answered late), skipped,
    expired or cancelled. Never a tombstone: `deleted` is false and `data` the prompt."""

    type = EnumField(PromptChangeType)
    data = PromptSerializer(  # type: ignore[assignment]
        help_text=(
            "The prompt as the inbox shows it, except that one on its way to your devices "
            "(`sending`) is `scheduled` here until it is `sent`. Never null: prompts are "
            "not deleted; one to show no more is `cancelled`."
        )
    )

    class Meta:
        ref_name = "PromptChange"


def prompt_sync_data(prompt: Prompt) -> dict[str, Any]:
    data = prompt_data(prompt)
    if prompt.status == PromptStatus.SENDING:
        data["status"] = PromptStatus.SCHEDULED
    return represent(PromptSerializer, data)


def prompt_sync_changes(
    *, patient: User, since: int, until: int, limit: int
) -> Sequence[SourceChange]:
    """The patient's prompts changed in (since, until], in change order: one query."""
    prompts = (
        Prompt.objects.filter(patient=patient, change__gt=since, change__lte=until)
        .select_related("exercise")
        .order_by("change")[:limit]
    )
    return [
        SourceChange(
            type=PromptChangeType.PROMPT.value,
            id=prompt.pk,
            change=prompt.change,
            deleted=False,
            data=prompt_sync_data(prompt),
        )
        for prompt in prompts
    ]


def prompt_sync_source() -> SyncSource:
    """JOURNAL_SYNC_SOURCES: prompts in the sync feed."""
    return SyncSource(
        kind=PromptChangeType.PROMPT.value,
        serializer=PromptChangeSerializer,
        changes=prompt_sync_changes,
    )
