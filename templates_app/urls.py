from django.urls import path

from templates_app import views

urlpatterns = [
    path("templates/", views.TemplateHomeView.as_view(), name="template-home"),
]
