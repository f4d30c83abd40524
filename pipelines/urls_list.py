"""Services › Pipelines: list, create, the pipeline page, copy, delete, follow and the configure tabs (P1–P4, P8)."""

from django.urls import path

from pipelines.views import config, create, detail, history, home, parameters, permissions
from pipelines.views import list as pipeline_list

PIPELINE = "projects/<int:project_id>/pipelines/<int:pipeline_id>/"
SETTINGS = PIPELINE + "settings/"

urlpatterns = [
    path("pipelines/", home.PipelineHomeView.as_view(), name="pipeline-home"),
    path("pipelines/new/", create.ChooseProjectView.as_view(), name="pipeline-choose-project"),
    path("projects/<int:project_id>/pipelines/", pipeline_list.ProjectPipelineListView.as_view(), name="pipeline-list"),
    path("projects/<int:project_id>/pipelines/new/", create.PipelineCreateView.as_view(), name="pipeline-create"),
    path("projects/<int:project_id>/pipelines/new/browse/", create.BrowseView.as_view(), name="pipeline-create-browse"),
    path(PIPELINE, detail.PipelineDetailView.as_view(), name="pipeline-detail"),
    path(PIPELINE + "follow/", pipeline_list.FollowView.as_view(), name="pipeline-follow"),
    path(PIPELINE + "copy/", pipeline_list.CopyView.as_view(), name="pipeline-copy"),
    path(PIPELINE + "delete/", pipeline_list.DeleteView.as_view(), name="pipeline-delete"),
    path(SETTINGS, config.SettingsHomeView.as_view(), name="pipeline-settings"),
    path(SETTINGS + "basic/", config.BasicView.as_view(), name="pipeline-settings-basic"),
    path(SETTINGS + "parameters/", parameters.ParametersView.as_view(), name="pipeline-settings-parameters"),
    path(SETTINGS + "triggers/", config.TriggersView.as_view(), name="pipeline-settings-triggers"),
    path(SETTINGS + "permissions/", permissions.PermissionsView.as_view(), name="pipeline-settings-permissions"),
    path(
        SETTINGS + "permissions/toggle/",
        permissions.PermissionToggleView.as_view(),
        name="pipeline-permission-toggle",
    ),
    path(SETTINGS + "notifications/", config.NotificationsView.as_view(), name="pipeline-settings-notifications"),
    path(SETTINGS + "history/", history.HistoryView.as_view(), name="pipeline-settings-history"),
    path(SETTINGS + "history/<int:number>/", history.VersionDiffView.as_view(), name="pipeline-version-diff"),
    path(
        SETTINGS + "history/<int:number>/restore/",
        history.RestoreView.as_view(),
        name="pipeline-version-restore",
    ),
]
