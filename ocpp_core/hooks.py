"""What the apps built on ocpp_core ask it to do, registered in their AppConfig.ready(): the core calls these hooks
and imports none of the apps (tests/test_layers.py). The first of the hook registry issue 14 describes.

* `after_app_statements_commit`: reactions, run once statements an app contributed to a charger's write are
  committed (roaming: drain the outbox the statements queued pushes in). They must return at once: they run on the
  OCPP event loop.
"""

from collections.abc import Callable

_after_app_statements_commit: list[Callable[[], None]] = []


def after_app_statements_commit(reaction: Callable[[], None]) -> None:
    """Register `reaction` (from an app's ready())."""
    if reaction not in _after_app_statements_commit:
        _after_app_statements_commit.append(reaction)


def app_statements_committed() -> None:
    """Statements an app contributed to a charger's write are committed: run the registered reactions."""
    for reaction in _after_app_statements_commit:
        reaction()
