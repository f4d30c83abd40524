from django.urls import path

from pipelines.views import home

urlpatterns = [
    path("pipelines/", home.PipelineHomeView.as_view(), name="pipeline-home"),
]
