from django.urls import path

from ..protocol import SUPPORTED_VERSION
from .views import CpoLocationsView, CredentialsView, VersionDetailsView, VersionsView

app_name = "ocpi"

urlpatterns = [
    path("versions", VersionsView.as_view(), name="versions"),
    path(f"{SUPPORTED_VERSION}/details", VersionDetailsView.as_view(), name="details"),
    path(f"{SUPPORTED_VERSION}/credentials", CredentialsView.as_view(), name="credentials"),
    path(f"cpo/{SUPPORTED_VERSION}/locations", CpoLocationsView.as_view(), name="cpo-locations"),
    path(f"cpo/{SUPPORTED_VERSION}/locations/<str:location_id>", CpoLocationsView.as_view()),
    path(f"cpo/{SUPPORTED_VERSION}/locations/<str:location_id>/<str:evse_uid_>", CpoLocationsView.as_view()),
    path(
        f"cpo/{SUPPORTED_VERSION}/locations/<str:location_id>/<str:evse_uid_>/<str:connector_id>",
        CpoLocationsView.as_view(),
    ),
]
