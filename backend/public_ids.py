"""The public id of a row whose primary key is a sequence.

Every id the API shows or takes is a UUID. Rows that began with an integer key (plan
steps, care invitations, access events) keep it inside the database, where foreign keys,
ordering and the append-only access log use it, and show `public_id` instead: a sequence
number tells a client how many rows there are and invites guessing the next one, and a
generated client would otherwise meet two kinds of id.
"""

from __future__ import annotations

import uuid

from django.db import models


class PublicIdModel(models.Model):
    """Adds `public_id`, the id this row has in every answer and URL."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True
