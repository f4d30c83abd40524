"""Seed-compatible Git authorization API (SPEC E9), included at ``/v1/``; see ``endpoints.gitauth``."""

from django.urls import re_path

from endpoints.gitauth import GitAuthDetailView, GitAuthKindView, GitAuthListView, NotFoundView

_auths = r"^(?P<project_id>[^/]+)/git/auths"

urlpatterns = [
    re_path(_auths + r"/?$", GitAuthListView.as_view(), name="gitauth-list"),
    re_path(
        _auths + r"/(?P<repo_type>[^/]+)/(?P<kind>personal|password|oauth|redirect)/?$",
        GitAuthKindView.as_view(),
        name="gitauth-kind",
    ),
    re_path(_auths + r"/(?P<name>.+)$", GitAuthDetailView.as_view(), name="gitauth-detail"),
    re_path(r"^", NotFoundView.as_view(), name="gitauth-not-found"),  # any other /v1/ path: SVCSTG 404
]
