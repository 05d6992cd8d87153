"""Writes, by subject. registry: charge boxes, tags, users, groups (operators). The OCPP modules serve chargers."""
