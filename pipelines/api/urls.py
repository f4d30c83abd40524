"""The pipelines REST API (API.md): pipelines, their permissions, versions and YAML, and host groups."""

from django.urls import path

from pipelines.api.views import HostGroupViewSet, PipelineImportViewSet, PipelineViewSet

pipeline_list = PipelineViewSet.as_view({"get": "list", "post": "create"})
pipeline_detail = PipelineViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
pipeline_copy = PipelineViewSet.as_view({"post": "copy"})
pipeline_follow = PipelineViewSet.as_view({"put": "follow", "delete": "unfollow"})
pipeline_permissions = PipelineViewSet.as_view({"get": "permissions", "put": "set_permissions"})
pipeline_versions = PipelineViewSet.as_view({"get": "versions"})
pipeline_version = PipelineViewSet.as_view({"get": "version"})
pipeline_restore = PipelineViewSet.as_view({"post": "restore"})
pipeline_export = PipelineViewSet.as_view({"get": "export"})
pipeline_import = PipelineImportViewSet.as_view({"post": "create"})
host_group_list = HostGroupViewSet.as_view({"get": "list", "post": "create"})
host_group_detail = HostGroupViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

_project = "projects/<int:project_id>/"
_pipeline = _project + "pipelines/<int:pk>/"

urlpatterns = [
    path(_project + "pipelines/", pipeline_list, name="api-pipeline-list"),
    path(_project + "pipelines/import/", pipeline_import, name="api-pipeline-import"),
    path(_pipeline, pipeline_detail, name="api-pipeline-detail"),
    path(_pipeline + "copy/", pipeline_copy, name="api-pipeline-copy"),
    path(_pipeline + "follow/", pipeline_follow, name="api-pipeline-follow"),
    path(_pipeline + "permissions/", pipeline_permissions, name="api-pipeline-permissions"),
    path(_pipeline + "versions/", pipeline_versions, name="api-pipeline-versions"),
    path(_pipeline + "versions/<int:number>/", pipeline_version, name="api-pipeline-version"),
    path(_pipeline + "versions/<int:number>/restore/", pipeline_restore, name="api-pipeline-restore"),
    path(_pipeline + "export/", pipeline_export, name="api-pipeline-export"),
    path(_project + "host-groups/", host_group_list, name="api-host-group-list"),
    path(_project + "host-groups/<int:pk>/", host_group_detail, name="api-host-group-detail"),
]
