"""Model fields of the roaming app."""

from django.db import models
from django.db.models.lookups import Exact, In


class CiCharField(models.CharField):
    """A column holding an OCPI CiString (a country code, party id, or an id the spec types CiString): stored as it
    was sent, matched ignoring case. Plain `filter(ocpi_id=x)` (and get, get_or_create, exclude, joins through it)
    compares upper-cased on both sides, which is what the Upper() unique constraints index, so a lookup can neither
    miss another spelling of an id nor forget to ask for it (roaming.protocol.ci_equal does the same outside the
    database)."""


@CiCharField.register_lookup
class CiExact(Exact):
    """`exact` on a CiCharField: UPPER(column) = UPPER(value). Unlike `iexact` (LIKE on SQLite, a cast on
    PostgreSQL), this is the very expression of the unique constraints' indexes, so the lookup uses them."""

    lookup_name = "exact"

    def process_lhs(self, compiler, connection, lhs=None):
        sql, params = super().process_lhs(compiler, connection, lhs)
        return f"UPPER({sql})", params

    def process_rhs(self, compiler, connection):
        sql, params = super().process_rhs(compiler, connection)
        return f"UPPER({sql})", params


@CiCharField.register_lookup
class CiIn(In):
    """`in` on a CiCharField with a list of values: UPPER(column) IN (the values upper-cased). A subquery is compared
    as In does (its column's case as stored): say `exact` through a join where case must not matter."""

    lookup_name = "in"

    def get_prep_lookup(self):
        if self.rhs_is_direct_value():
            self.rhs = [value.upper() if isinstance(value, str) else value for value in self.rhs]
        return super().get_prep_lookup()

    def process_lhs(self, compiler, connection, lhs=None):
        sql, params = super().process_lhs(compiler, connection, lhs)
        return (f"UPPER({sql})", params) if self.rhs_is_direct_value() else (sql, params)
