"""The operator's pages for charge boxes, tags, transactions and the OCPP conversation, by subject."""

from . import charge_boxes, messages, tags, transactions  # noqa: F401  (each registers its ModelAdmins)
