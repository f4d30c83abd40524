"""Test settings: the real settings, with fixed test-only keys so the suite runs on any database."""

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
# Two keys: the first encrypts, both decrypt (exercises MultiFernet like a rotated deployment).
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEY",
    "hUq0A0SRn7t8bXvZ1qxz0oU2w0k1tgMZ4Zf7Q2yXe6Y=,q6t2m2yq1Rz0mXb5y3vV8kQp0aWd9cL4nE7sT1uH2jI=",
)
os.environ.setdefault("DEVOPS_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test"))

from devops_console.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests create many users
CELERY_TASK_ALWAYS_EAGER = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# WhiteNoise otherwise scans every static file whenever a test client builds its handler.
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory: real Celery workers started by the tests must see the same database.
    # One file per test session (set in the environment so the workers it starts inherit it).
    _name = os.environ.setdefault("DEVOPS_TEST_DB", str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3"))  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": _name}  # noqa: F405

# One embedded Redis per test session too (inherited by the workers it starts), so concurrent sessions
# never consume each other's tasks.
_socket = str(VAR_DIR / f"redis-{os.getpid()}.sock")  # noqa: F405
EMBEDDED_REDIS_SOCKET = Path(os.environ.setdefault("DEVOPS_TEST_REDIS_SOCKET", _socket))
if not REDIS_URL:  # noqa: F405
    CELERY_BROKER_URL = CELERY_RESULT_BACKEND = f"redis+socket://{EMBEDDED_REDIS_SOCKET}"
RUN_WORKER_LOST_SECONDS = 12  # two missed heartbeats; production waits 30 s

# Transactional tests flush the database, which recreates content types with new ids; the long-lived
# test workers must not keep the old ids cached (guardian looks permissions up by content type).
from celery.signals import task_prerun  # noqa: E402


@task_prerun.connect(weak=False)
def _forget_content_types(**kwargs):
    from django.contrib.contenttypes.models import ContentType
    from guardian.shortcuts import clear_ct_cache

    ContentType.objects.clear_cache()
    clear_ct_cache()
