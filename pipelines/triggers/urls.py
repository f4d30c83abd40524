"""Webhook receiver and the pipeline's Webhooks page (T1–T6)."""

from django.urls import path

from pipelines.triggers import views, webhooks

SETTINGS = "projects/<int:project_id>/pipelines/<int:pipeline_id>/settings/"

urlpatterns = [
    path("webhooks/<str:provider>/<int:pipeline_id>/", webhooks.WebhookView.as_view(), name="webhook"),
    path(SETTINGS + "webhooks/", views.WebhooksView.as_view(), name="pipeline-webhooks"),
    path(SETTINGS + "webhooks/secret/", views.WebhookSecretView.as_view(), name="pipeline-webhook-secret"),
    path(SETTINGS + "webhooks/dry-run/", views.DryRunView.as_view(), name="pipeline-webhook-dry-run"),
]
