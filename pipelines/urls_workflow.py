"""The workflow editor: stages, tasks and quality gates of one pipeline (P5–P7)."""

from django.urls import path

from pipelines.views import workflow, workflow_edit

BASE = "projects/<int:project_id>/pipelines/<int:pipeline_id>/workflow/"
STAGE = BASE + "stages/<int:stage>/"
TASK = STAGE + "tasks/<int:task>/"

urlpatterns = [
    path(BASE, workflow.WorkflowView.as_view(), name="pipeline-workflow"),
    path(BASE + "stages/add/", workflow_edit.StageFormView.as_view(), name="pipeline-workflow-stage-add"),
    path(STAGE + "edit/", workflow_edit.StageFormView.as_view(), name="pipeline-workflow-stage-edit"),
    path(STAGE + "gates/", workflow_edit.GateFormView.as_view(), name="pipeline-workflow-gates"),
    path(STAGE + "gates/template/", workflow_edit.GateTemplateView.as_view(), name="pipeline-workflow-gate-template"),
    path(STAGE + "tasks/add/", workflow_edit.TaskTypeView.as_view(), name="pipeline-workflow-task-types"),
    path(STAGE + "tasks/add/<str:kind>/", workflow_edit.TaskFormView.as_view(), name="pipeline-workflow-task-add"),
    path(TASK + "edit/", workflow_edit.TaskFormView.as_view(), name="pipeline-workflow-task-edit"),
    path(TASK + "promote/", workflow.PromoteParameterView.as_view(), name="pipeline-workflow-task-promote"),
    path(TASK + "<str:op>/", workflow.TaskOpView.as_view(), name="pipeline-workflow-task-op"),
    path(STAGE + "<str:op>/", workflow.StageOpView.as_view(), name="pipeline-workflow-stage-op"),
]
