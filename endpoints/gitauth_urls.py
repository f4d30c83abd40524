urlpatterns = []  # filled by the seed-compatible Git authorization API (E9)
