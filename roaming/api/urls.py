from django.urls import path, re_path

from ..ocpi211 import VERSION as V211
from ..protocol import SUPPORTED_VERSION
from .views import (
    Cpo211CdrsView,
    Cpo211CommandsView,
    Cpo211LocationsView,
    Cpo211SessionsView,
    Cpo211TariffsView,
    Cpo211TokensView,
    CpoCdrsView,
    CpoChargingProfilesView,
    CpoCommandsView,
    CpoLocationsView,
    CpoSessionsView,
    CpoTariffsView,
    CpoTokensView,
    CredentialsView,
    Emsp211CdrsView,
    Emsp211LocationsView,
    Emsp211SessionsView,
    Emsp211TariffsView,
    Emsp211TokenAuthorizeView,
    Emsp211TokensView,
    EmspActiveChargingProfileView,
    EmspCdrsView,
    EmspCdrView,
    EmspChargingProfileResultView,
    EmspCommandResultView,
    EmspLocationsView,
    EmspSessionsView,
    EmspTariffsView,
    EmspTokenAuthorizeView,
    EmspTokensView,
    HubClientInfoView,
    UnknownEndpointView,
    VersionDetailsView,
    VersionsView,
)

app_name = "ocpi"
V = SUPPORTED_VERSION

CPO_LOCATIONS = f"cpo/{SUPPORTED_VERSION}/locations"
CPO_TOKEN = f"cpo/{SUPPORTED_VERSION}/tokens/<str:country_code>/<str:party_id>/<str:token_uid>"
EMSP_TOKENS = f"emsp/{SUPPORTED_VERSION}/tokens"
OWNED = "<str:country_code>/<str:party_id>"  # an object's owner in a Receiver URL
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
    # Sessions, CDRs and tariffs: we as CPO offer ours; as eMSP we receive partner CPOs'.
    path(f"cpo/{V}/sessions", CpoSessionsView.as_view(), name="cpo-sessions"),
    path(f"cpo/{V}/cdrs", CpoCdrsView.as_view(), name="cpo-cdrs"),
    path(f"cpo/{V}/tariffs", CpoTariffsView.as_view(), name="cpo-tariffs"),
    path(f"emsp/{V}/sessions/{OWNED}/<str:object_id>", EmspSessionsView.as_view(), name="emsp-session"),
    path(f"emsp/{V}/cdrs", EmspCdrsView.as_view(), name="emsp-cdrs"),
    path(f"emsp/{V}/cdrs/<int:cdr_pk>", EmspCdrView.as_view(), name="emsp-cdr"),
    path(f"{V}/hubclientinfo/{OWNED}", HubClientInfoView.as_view(), name="hubclientinfo"),
    path(f"cpo/{V}/chargingprofiles/<str:session_id>", CpoChargingProfilesView.as_view(), name="cpo-chargingprofile"),
    path(
        f"emsp/{V}/chargingprofiles/results/<int:sent_pk>",
        EmspChargingProfileResultView.as_view(),
        name="emsp-chargingprofile-result",
    ),
    path(f"emsp/{V}/chargingprofiles/<str:session_id>", EmspActiveChargingProfileView.as_view()),
    # Commands: partner eMSPs command our chargers; partner CPOs post the results of ours.
    path(f"cpo/{V}/commands/<str:command>", CpoCommandsView.as_view(), name="cpo-command"),
    path(f"emsp/{V}/commands/<str:command>/<int:sent_pk>", EmspCommandResultView.as_view(), name="emsp-command-result"),
    path(f"emsp/{V}/tariffs/{OWNED}/<str:object_id>", EmspTariffsView.as_view(), name="emsp-tariff"),
]

# OCPI 2.1.1 (roaming.ocpi211): credentials, locations and tokens for partners that speak no 2.2.1.
CPO_LOCATIONS_211 = f"cpo/{V211}/locations"
EMSP_LOCATION_211 = f"emsp/{V211}/locations/{OWNED}/<str:location_id>"
urlpatterns += [
    path(f"{V211}/details", VersionDetailsView.as_view(version=V211), name="details-211"),
    path(f"{V211}/credentials", CredentialsView.as_view(version=V211), name="credentials-211"),
    path(CPO_LOCATIONS_211, Cpo211LocationsView.as_view(), name="cpo-locations-211"),
    path(f"{CPO_LOCATIONS_211}/<str:location_id>", Cpo211LocationsView.as_view()),
    path(f"{CPO_LOCATIONS_211}/<str:location_id>/<str:evse_uid_>", Cpo211LocationsView.as_view()),
    path(f"{CPO_LOCATIONS_211}/<str:location_id>/<str:evse_uid_>/<str:connector_id>", Cpo211LocationsView.as_view()),
    path(EMSP_LOCATION_211, Emsp211LocationsView.as_view(), name="emsp-location-211"),
    path(f"{EMSP_LOCATION_211}/<str:evse_uid>", Emsp211LocationsView.as_view()),
    path(f"{EMSP_LOCATION_211}/<str:evse_uid>/<str:connector_id>", Emsp211LocationsView.as_view()),
    path(f"emsp/{V211}/tokens", Emsp211TokensView.as_view(), name="emsp-tokens-211"),
    path(f"emsp/{V211}/tokens/<str:token_uid>/authorize", Emsp211TokenAuthorizeView.as_view()),
    path(f"cpo/{V211}/tokens/{OWNED}/<str:token_uid>", Cpo211TokensView.as_view(), name="cpo-token-211"),
    path(f"cpo/{V211}/sessions", Cpo211SessionsView.as_view(), name="cpo-sessions-211"),
    path(f"cpo/{V211}/cdrs", Cpo211CdrsView.as_view(), name="cpo-cdrs-211"),
    path(f"cpo/{V211}/tariffs", Cpo211TariffsView.as_view(), name="cpo-tariffs-211"),
    path(f"cpo/{V211}/commands/<str:command>", Cpo211CommandsView.as_view(), name="cpo-command-211"),
    path(f"emsp/{V211}/sessions/{OWNED}/<str:object_id>", Emsp211SessionsView.as_view(), name="emsp-session-211"),
    path(f"emsp/{V211}/cdrs", Emsp211CdrsView.as_view(), name="emsp-cdrs-211"),
    path(f"emsp/{V211}/cdrs/<int:cdr_pk>", EmspCdrView.as_view()),
    path(f"emsp/{V211}/tariffs/{OWNED}/<str:object_id>", Emsp211TariffsView.as_view(), name="emsp-tariff-211"),
]

# Last: every other path under /ocpi/ (trailing-slash variants of ours included) is an unknown endpoint, answered in
# the envelope rather than Django's HTML 404.
urlpatterns.append(re_path(r"^", UnknownEndpointView.as_view(), name="unknown-endpoint"))
