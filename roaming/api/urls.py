from django.urls import path

from ..protocol import SUPPORTED_VERSION
from .views import (
    CpoLocationsView,
    CpoTokensView,
    CredentialsView,
    EmspLocationsView,
    EmspTokenAuthorizeView,
    EmspTokensView,
    VersionDetailsView,
    VersionsView,
)

app_name = "ocpi"

CPO_LOCATIONS = f"cpo/{SUPPORTED_VERSION}/locations"
CPO_TOKEN = f"cpo/{SUPPORTED_VERSION}/tokens/<str:country_code>/<str:party_id>/<str:token_uid>"
EMSP_TOKENS = f"emsp/{SUPPORTED_VERSION}/tokens"
EMSP_LOCATION = f"emsp/{SUPPORTED_VERSION}/locations/<str:country_code>/<str:party_id>/<str:location_id>"

urlpatterns = [
    path("versions", VersionsView.as_view(), name="versions"),
    path(f"{SUPPORTED_VERSION}/details", VersionDetailsView.as_view(), name="details"),
    path(f"{SUPPORTED_VERSION}/credentials", CredentialsView.as_view(), name="credentials"),
    # We are the CPO: partners read our locations (Sender interface).
    path(CPO_LOCATIONS, CpoLocationsView.as_view(), name="cpo-locations"),
    path(f"{CPO_LOCATIONS}/<str:location_id>", CpoLocationsView.as_view()),
    path(f"{CPO_LOCATIONS}/<str:location_id>/<str:evse_uid_>", CpoLocationsView.as_view()),
    path(f"{CPO_LOCATIONS}/<str:location_id>/<str:evse_uid_>/<str:connector_id>", CpoLocationsView.as_view()),
    # We are the eMSP: partner CPOs push theirs (Receiver interface).
    path(EMSP_LOCATION, EmspLocationsView.as_view(), name="emsp-location"),
    path(f"{EMSP_LOCATION}/<str:evse_uid>", EmspLocationsView.as_view()),
    path(f"{EMSP_LOCATION}/<str:evse_uid>/<str:connector_id>", EmspLocationsView.as_view()),
    # Tokens: partner eMSPs push theirs to us as CPO; partner CPOs fetch ours and ask about one in real time.
    path(CPO_TOKEN, CpoTokensView.as_view(), name="cpo-token"),
    path(EMSP_TOKENS, EmspTokensView.as_view(), name="emsp-tokens"),
    path(f"{EMSP_TOKENS}/<str:token_uid>/authorize", EmspTokenAuthorizeView.as_view(), name="emsp-token-authorize"),
]
