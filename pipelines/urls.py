"""Pipeline pages. Each area has its own URL module so they can grow independently."""

from django.urls import include, path

urlpatterns = [
    path("", include("pipelines.urls_list")),  # Services › Pipelines list, create, copy, delete, configure tabs
    path("", include("pipelines.urls_workflow")),  # the workflow editor (stages, tasks, gates)
]
