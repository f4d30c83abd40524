from django.urls import path

from devops_console.core.api.views import MemberViewSet, ProjectViewSet

project_list = ProjectViewSet.as_view({"get": "list", "post": "create"})
project_detail = ProjectViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
member_list = MemberViewSet.as_view({"get": "list", "post": "create"})
member_detail = MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("projects/", project_list, name="api-project-list"),
    path("projects/<int:project_id>/", project_detail, name="api-project-detail"),
    path("projects/<int:project_id>/members/", member_list, name="api-member-list"),
    path("projects/<int:project_id>/members/<str:username>/", member_detail, name="api-member-detail"),
]
