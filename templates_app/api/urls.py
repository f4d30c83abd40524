urlpatterns = []  # the templates REST API (API.md)
