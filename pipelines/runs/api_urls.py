"""Runs REST API (API.md), included under ``/api/v1/``."""

from django.urls import path

from pipelines.runs import api

RUNS = "projects/<int:project_id>/pipelines/<int:pipeline_id>/runs/"
RUN = RUNS + "<int:number>/"
TASK = RUN + "tasks/<int:task_run_id>/"

urlpatterns = [
    path(RUNS, api.RunListView.as_view(), name="api-run-list"),
    path(RUN, api.RunDetailView.as_view(), name="api-run-detail"),
    *(
        path(RUN + f"{a}/", api.RunActionView.as_view(action=a), name=f"api-run-{a}")
        for a in ("stop", "retry", "fresh")
    ),
    *(
        path(TASK + f"{a}/", api.RunActionView.as_view(action=a), name=f"api-run-task-{a}")
        for a in ("rerun", "approve", "reject")
    ),
    path(
        RUN + "stages/<int:stage_run_id>/confirm/",
        api.RunActionView.as_view(action="confirm"),
        name="api-run-stage-confirm",
    ),
    path(TASK + "log/", api.LogView.as_view(), name="api-run-log"),
    path(TASK + "log/download/", api.LogDownloadView.as_view(), name="api-run-log-download"),
    path(RUN + "packages/", api.PackageListView.as_view(), name="api-run-packages"),
    path(RUN + "packages/download/", api.PackagesZipView.as_view(), name="api-run-packages-zip"),
    path(
        RUN + "packages/<int:package_id>/download/", api.PackageDownloadView.as_view(), name="api-run-package-download"
    ),
]
