"""A partner calling our OCPI endpoints in the tests: DRF's test client with the partner's token."""

import base64

from rest_framework.test import APIClient


def client_of(party, *, plain: bool = False) -> APIClient:
    """As `party` (its token base64-encoded as 2.2.1 sends it, or `plain` as 2.1.1 does); client.party is it."""
    token = party.incoming_token if plain else base64.b64encode(party.incoming_token.encode()).decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.party = party
    return client
