from django.urls import path

from pipelines import views

urlpatterns = [
    path("pipelines/", views.PipelineHomeView.as_view(), name="pipeline-home"),
]
