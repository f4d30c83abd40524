urlpatterns = []  # the pipelines REST API (API.md)
