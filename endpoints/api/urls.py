from django.urls import path

from endpoints.api.views import CredentialViewSet, EndpointViewSet

endpoint_list = EndpointViewSet.as_view({"get": "list", "post": "create"})
endpoint_detail = EndpointViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
endpoint_verify = EndpointViewSet.as_view({"post": "verify"})
endpoint_usage = EndpointViewSet.as_view({"get": "usage"})
endpoint_permissions = EndpointViewSet.as_view({"get": "permissions", "put": "set_permissions"})
endpoint_repositories = EndpointViewSet.as_view({"get": "repositories"})
endpoint_branches = EndpointViewSet.as_view({"get": "branches"})
endpoint_tags = EndpointViewSet.as_view({"get": "tags"})
credential_list = CredentialViewSet.as_view({"get": "list", "post": "create"})
credential_detail = CredentialViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

_endpoint = "projects/<int:project_id>/endpoints/<int:pk>/"
_credential = "projects/<int:project_id>/credentials/"

urlpatterns = [
    path("projects/<int:project_id>/endpoints/", endpoint_list, name="api-endpoint-list"),
    path(_endpoint, endpoint_detail, name="api-endpoint-detail"),
    path(_endpoint + "verify/", endpoint_verify, name="api-endpoint-verify"),
    path(_endpoint + "usage/", endpoint_usage, name="api-endpoint-usage"),
    path(_endpoint + "permissions/", endpoint_permissions, name="api-endpoint-permissions"),
    path(_endpoint + "repositories/", endpoint_repositories, name="api-endpoint-repositories"),
    path(_endpoint + "branches/", endpoint_branches, name="api-endpoint-branches"),
    path(_endpoint + "tags/", endpoint_tags, name="api-endpoint-tags"),
    path(_credential, credential_list, name="api-credential-list"),
    path(_credential + "<int:pk>/", credential_detail, name="api-credential-detail"),
]
