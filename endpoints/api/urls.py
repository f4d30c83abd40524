urlpatterns = []  # filled by the endpoints API
