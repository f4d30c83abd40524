"""Services › Templates pages (SPEC §9). ``template-home`` is the list the top navigation links to."""

from django.urls import path

from templates_app import views

urlpatterns = [
    path("templates/", views.TemplateHomeView.as_view(), name="template-home"),
    path("templates/new/", views.TemplateFormView.as_view(), name="template-create"),
    path("templates/<int:pk>/", views.TemplateDetailView.as_view(), name="template-detail"),
    path("templates/<int:pk>/edit/", views.TemplateFormView.as_view(), name="template-edit"),
    path("templates/<int:pk>/copy/", views.TemplateCopyView.as_view(), name="template-copy"),
    path("templates/<int:pk>/delete/", views.TemplateDeleteView.as_view(), name="template-delete"),
    path("templates/<int:pk>/follow/", views.TemplateFollowView.as_view(), name="template-follow"),
    path("templates/<int:pk>/generate/", views.GenerateView.as_view(), name="template-generate"),
]
