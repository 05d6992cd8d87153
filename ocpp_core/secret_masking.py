"""What Powerfill keeps of a secret it sends to a charger: a mask, never the value.

A charger's password goes out in clear inside ChangeConfiguration AuthorizationKey (the charger needs it), but the
message log, the operation records, the admin, the API and the logs keep only MASK. The operation that sends a secret
names it (`Operation.secrets`); the frame is masked by the value, so the rule does not depend on where in the
payload the secret sits. A charger that answers GetConfiguration with its AuthorizationKey (the security whitepaper
makes that key write-only, but not every charger obeys) is masked too.
"""

import json
import re

MASK = "********"
# Configuration keys are CiString50Type in OCPP 1.6: "authorizationkey" is the same key.
SECRET_CONFIGURATION_KEYS = frozenset({"authorizationkey"})
_NAMES_A_SECRET_KEY = re.compile("|".join(re.escape(key) for key in SECRET_CONFIGURATION_KEYS), re.IGNORECASE)


def is_secret_key(key) -> bool:
    """Whether a configuration key holds a secret (compared ignoring case, as OCPP compares keys)."""
    return isinstance(key, str) and key.casefold() in SECRET_CONFIGURATION_KEYS


def masked_frame(frame: str, secrets) -> str:
    """The frame as it may be kept: each secret's JSON string text replaced by the mask."""
    for secret in secrets:
        if secret:
            frame = frame.replace(json.dumps(secret)[1:-1], MASK)
    return frame


def masked_values(data: dict, secrets) -> dict:
    """A copy of flat params with every value that is one of the secrets replaced by the mask."""
    secrets = {secret for secret in secrets if secret}
    return {key: MASK if isinstance(value, str) and value in secrets else value for key, value in data.items()}


def masked_configuration(entries: list) -> list:
    """GetConfiguration's configurationKey entries with the value of a secret key masked."""
    return [
        {**entry, "value": MASK} if is_secret_key(entry.get("key")) and "value" in entry else entry for entry in entries
    ]


def received_frame_to_keep(frame: str) -> str:
    """A received frame as it may be kept. Only a frame naming a secret configuration key is read again (a plain
    pattern search first: this runs for every message)."""
    if _NAMES_A_SECRET_KEY.search(frame) is None:
        return frame
    try:
        message = json.loads(frame)
    except ValueError:
        return frame
    if not (isinstance(message, list) and len(message) == 3 and message[0] == 3 and isinstance(message[2], dict)):
        return frame
    entries = message[2].get("configurationKey")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        return frame
    message[2] = {**message[2], "configurationKey": masked_configuration(entries)}
    return json.dumps(message, separators=(",", ":"))
