from django.urls import path

from devops_console.core import views

urlpatterns = [
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path("projects/new/", views.ProjectCreateView.as_view(), name="project-create"),
    path("projects/<int:project_id>/", views.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/settings/", views.ProjectSettingsView.as_view(), name="project-settings"),
    path("projects/<int:project_id>/settings/delete/", views.ProjectDeleteView.as_view(), name="project-delete"),
    path("projects/<int:project_id>/settings/members/", views.MembersView.as_view(), name="project-members"),
    path(
        "projects/<int:project_id>/settings/members/<str:username>/",
        views.MemberChangeView.as_view(),
        name="project-member-change",
    ),
    path("account/tokens/", views.TokenListView.as_view(), name="account-tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.TokenRevokeView.as_view(), name="account-token-revoke"),
]
