from django.urls import path

from ..protocol import SUPPORTED_VERSION
from .views import CredentialsView, VersionDetailsView, VersionsView

app_name = "ocpi"

urlpatterns = [
    path("versions", VersionsView.as_view(), name="versions"),
    path(f"{SUPPORTED_VERSION}/details", VersionDetailsView.as_view(), name="details"),
    path(f"{SUPPORTED_VERSION}/credentials", CredentialsView.as_view(), name="credentials"),
]
