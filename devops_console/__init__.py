"""DevOps console: settings, URLs, the Celery app and the shared core (projects, roles, accounts)."""

from devops_console.celery import app as celery_app

__all__ = ["celery_app"]
