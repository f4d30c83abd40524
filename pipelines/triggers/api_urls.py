"""Execution-plan API (API.md), included under ``/api/v1/``: webhook URL/secret, deliveries, dry run."""

from django.urls import path

from pipelines.triggers import api

PIPELINE = "projects/<int:project_id>/pipelines/<int:pipeline_id>/"

urlpatterns = [
    path(PIPELINE + "webhook/", api.WebhookInfoView.as_view(), name="api-pipeline-webhook"),
    path(PIPELINE + "webhook/secret/", api.WebhookSecretView.as_view(), name="api-pipeline-webhook-secret"),
    path(PIPELINE + "deliveries/", api.DeliveryListView.as_view(), name="api-pipeline-deliveries"),
    path(PIPELINE + "triggers/dry-run/", api.DryRunView.as_view(), name="api-pipeline-trigger-dry-run"),
]
