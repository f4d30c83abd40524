urlpatterns = []  # runs REST API (API.md)
