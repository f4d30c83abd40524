"""The templates REST API (API.md): ``/api/v1/templates/…``."""

from django.urls import path

from templates_app.api.views import TemplateViewSet

template_list = TemplateViewSet.as_view({"get": "list", "post": "create"})
template_detail = TemplateViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
template_copy = TemplateViewSet.as_view({"post": "copy"})
template_follow = TemplateViewSet.as_view({"put": "follow", "delete": "unfollow"})
template_generate = TemplateViewSet.as_view({"post": "generate"})

urlpatterns = [
    path("templates/", template_list, name="api-template-list"),
    path("templates/<int:pk>/", template_detail, name="api-template-detail"),
    path("templates/<int:pk>/copy/", template_copy, name="api-template-copy"),
    path("templates/<int:pk>/follow/", template_follow, name="api-template-follow"),
    path("templates/<int:pk>/generate/", template_generate, name="api-template-generate"),
]
