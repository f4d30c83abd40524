"""The Celery application. Workers: ``celery -A devops_console worker``; beat uses the database scheduler."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_console.settings")

app = Celery("devops_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
