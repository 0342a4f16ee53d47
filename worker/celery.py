"""The one Celery app, wired by the official Django recipe.

Configuration comes from Django settings under the `CELERY_` namespace; tasks are
discovered in every installed app's `tasks.py`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("afterglow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
