from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import unknown_api_path

v1 = [
    path("", include("ocpp_core.api.urls")),
    path("", include("sites.api.urls")),
    path("", include("permissions.api.urls")),
    path("", include("priority.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Anything else under /api/ answers 404 in the API's error shape rather than an HTML page.
    re_path(r"^api/", unknown_api_path),
]
