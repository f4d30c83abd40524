"""Settings › General › Service Endpoints and Credentials (SPEC §2)."""

from django.urls import path

from endpoints import views

ENDPOINTS = "projects/<int:project_id>/settings/endpoints/"
ENDPOINT = ENDPOINTS + "<int:endpoint_id>/"
CREDENTIALS = "projects/<int:project_id>/settings/credentials/"
CREDENTIAL = CREDENTIALS + "<int:credential_id>/"

urlpatterns = [
    path(ENDPOINTS, views.EndpointListView.as_view(), name="endpoint-list"),
    path(ENDPOINTS + "new/<str:type_key>/", views.EndpointCreateView.as_view(), name="endpoint-create"),
    path(ENDPOINT, views.EndpointDetailView.as_view(), name="endpoint-detail"),
    path(ENDPOINT + "edit/", views.EndpointEditView.as_view(), name="endpoint-edit"),
    path(ENDPOINT + "delete/", views.EndpointDeleteView.as_view(), name="endpoint-delete"),
    path(ENDPOINT + "verify/", views.EndpointVerifyView.as_view(), name="endpoint-verify"),
    path(ENDPOINT + "permissions/", views.EndpointPermissionsView.as_view(), name="endpoint-permissions"),
    path(CREDENTIALS, views.CredentialListView.as_view(), name="credential-list"),
    path(CREDENTIALS + "new/", views.CredentialCreateView.as_view(), name="credential-create"),
    path(CREDENTIAL + "edit/", views.CredentialEditView.as_view(), name="credential-edit"),
    path(CREDENTIAL + "delete/", views.CredentialDeleteView.as_view(), name="credential-delete"),
]
