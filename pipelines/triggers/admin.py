"""Admin of the execution plan (I2, A6). Each feature registers its models in its own module."""

from pipelines.triggers import (
    admin_schedules,  # noqa: F401 — schedules (T5): the slot log
    admin_webhooks,  # noqa: F401 — webhooks (T6): deliveries and secrets
)
