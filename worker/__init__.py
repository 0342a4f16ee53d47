"""The Celery app. Import it as `worker.celery_app` (the Django recipe)."""

from worker.celery import app as celery_app

__all__ = ("celery_app",)
