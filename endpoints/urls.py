urlpatterns = []  # filled by the endpoint pages
