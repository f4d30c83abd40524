from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devops_console.core.formstyle import LoginForm
from devops_console.core.health import healthz

api_v1 = [
    path("", include("devops_console.core.api.urls")),
    path("", include("endpoints.api.urls")),
    path("", include("pipelines.api.urls")),
    path("", include("pipelines.runs.api_urls")),
    path("", include("pipelines.triggers.api_urls")),
    path("", include("templates_app.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="pipeline-home", permanent=False), name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/", include("endpoints.gitauth_urls")),
    path("", include("devops_console.core.urls")),
    path("", include("endpoints.urls")),
    path("", include("pipelines.runs.urls")),
    path("", include("pipelines.triggers.urls")),
    path("", include("pipelines.urls")),
    path("", include("templates_app.urls")),
]
