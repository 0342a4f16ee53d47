"""Thin Celery tasks: stable names, ids as arguments, the work done by services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="afterglow.ping")
def ping() -> str:
    """A task that does nothing, so a worker's health can be checked end to end."""
    return "pong"
