"""Run pages: the start dialog (X1), run history (X4), the run page with its htmx partials, actions and
downloads (X2, X5–X7, K1)."""

from django.urls import path

from pipelines.runs import views

PIPELINE = "projects/<int:project_id>/pipelines/<int:pipeline_id>/"
RUN = PIPELINE + "runs/<int:number>/"
TASK = RUN + "tasks/<int:task_id>/"

urlpatterns = [
    path(PIPELINE + "run/", views.StartRunView.as_view(), name="pipeline-run"),
    path(PIPELINE + "runs/", views.RunHistoryView.as_view(), name="run-history"),
    path(RUN, views.RunDetailView.as_view(), name="run-detail"),
    path(RUN + "live/", views.RunLiveView.as_view(), name="run-live"),
    *(path(RUN + f"{a}/", views.RunActionView.as_view(action=a), name=f"run-{a}") for a in ("stop", "retry", "fresh")),
    *(
        path(TASK + f"{a}/", views.RunActionView.as_view(action=a), name=f"run-task-{a}")
        for a in ("rerun", "approve", "reject")
    ),
    path(
        RUN + "stages/<int:stage_id>/confirm/", views.RunActionView.as_view(action="confirm"), name="run-stage-confirm"
    ),
    path(TASK + "log/", views.LogPieceView.as_view(), name="run-log"),
    path(TASK + "log/download/", views.LogDownloadView.as_view(), name="run-log-download"),
    path(RUN + "packages/download/", views.PackagesZipView.as_view(), name="run-packages-zip"),
    path(RUN + "packages/<int:package_id>/download/", views.PackageDownloadView.as_view(), name="run-package-download"),
]
