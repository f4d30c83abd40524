"""Keep materialized pipeline rights in step with project membership (A2: role settings sync persons)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from devops_console.core.models import Membership


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def membership_changed(sender, instance, **kwargs):
    from pipelines.permissions import sync_member

    sync_member(instance.project_id, instance.user_id)
