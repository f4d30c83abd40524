"""The Celery application. Workers: ``celery -A devops_console worker``; beat uses the database scheduler."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_console.settings")

app = Celery("devops_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(**kwargs):
    """Django's rules for connections, as between web requests: keep them for ``CONN_MAX_AGE`` and drop
    ones that failed. Celery's own Django fix-up would close every connection before and after every
    task (``DB_REUSE_MAX`` below turns that off): a new connection per task costs more than a whole
    engine step (PostgreSQL: several milliseconds)."""
    from django.db import close_old_connections

    close_old_connections()
