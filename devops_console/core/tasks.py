"""Core Celery tasks."""

from celery import shared_task


@shared_task(name="core.ping")
def ping(value: str = "pong") -> str:
    """A round trip through the broker and a worker (health checks and tests)."""
    return value
