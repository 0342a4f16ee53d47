"""A snoozed prompt is pushed again when its new time comes, however often it was snoozed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integration.delivery.dispatch import prompts_claim_due, prompts_deliver
from integration.models import Prompt, PromptStatus
from integration.prompts import inbox
from tests.integration.counting_provider import read_log
from tests.integration.delivery_data import make_prompts


@pytest.mark.django_db
def test_a_prompt_snoozed_again_and_again_is_pushed_each_time(push_log, settings):
    settings.PROMPT_MAX_ATTEMPTS = 3
    prompt = make_prompts(1, patients=1)[0]
    for _ in range(settings.PROMPT_MAX_ATTEMPTS + 2):
        claims = prompts_claim_due(now=timezone.now(), batch_size=10, lease=timedelta(minutes=2))
        prompts_deliver(claims=[(str(p), str(c)) for p, c in claims])
        prompt.refresh_from_db()
        assert (prompt.status, prompt.delivered_via, prompt.last_error) == (
            PromptStatus.SENT,
            "push",
            "",
        )
        # "Later": back to scheduled, due again a moment from now.
        now = timezone.now()
        inbox.prompt_snooze(
            patient=prompt.patient, prompt_id=prompt.pk, until=now + timedelta(seconds=1), now=now
        )
        Prompt.objects.filter(pk=prompt.pk).update(due_at=now)
    assert len(read_log(push_log)) == settings.PROMPT_MAX_ATTEMPTS + 2
