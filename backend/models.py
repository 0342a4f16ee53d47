"""The project's own tables (beside the database cache's): idempotency keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """A create made under an `Idempotency-Key` header (backend/idempotency.py), so a
    repeat answers the first result. Neither the key nor the request is kept: only keyed
    digests of each, and the type and id of what was made (rendered again on a repeat,
    never stored as a response, which may hold codes or health data)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The operation the key was used for (its OpenAPI operationId): keys are per account
    # and operation, so one key sent to two operations makes two records.
    operation = models.CharField(max_length=64)
    key_digest = models.CharField(max_length=64)
    request_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "operation", "key_digest"], name="idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_key_expires")]

    def __str__(self) -> str:
        return f"{self.operation} -> {self.resource_type} {self.resource_id}"
