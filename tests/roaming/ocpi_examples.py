"""The OCPI 2.2.1 specification's JSON examples (tests/roaming/data/ocpi-2.2.1-examples, unmodified copies under
their CC BY-ND 4.0 notice), for the tests that check our objects against them."""

import json
from pathlib import Path

EXAMPLES = Path(__file__).with_name("data") / "ocpi-2.2.1-examples"


def example(name: str) -> dict:
    """One example file, parsed."""
    return json.loads((EXAMPLES / name).read_text())
