"""Benchmark: the permission resolver and GET /api/v1/sites/{id} on a large PostgreSQL data set.

    python tests/benchmarks/bench_permissions.py [--database-url postgres://postgres@127.0.0.1:5432/powerfill_bench]
                                                 [--checks 5000] [--rebuild]

Data (loaded once with COPY, reused while it matches): one site tree of 100,001 nodes, depth 8 (a root, ten
campuses of 10,000 nodes each), 20,000 charge boxes on the deeper nodes, 1,000,000 OCPP tags in 10,000 groups
(100 tags each), 200,000 permissions (150,000 of tags, 50,000 of groups; those above the lowest levels apply to
all children) and 50,000 transactions, 10,000 of them running.

Measured: queries and latency of a permission check as /api/v1/permissions/check does it (load the charge box with
its node, then authorize: tag, tag permissions, group permissions and running transactions), on random pairs of
tags and charge boxes; and GET /api/v1/sites/{campus} (a 10,000-node subtree) through the whole Django stack.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CAMPUSES = 10
NODES_PER_CAMPUS = 10_000
BRANCHING = 4
DEPTH = 8
CHARGE_BOXES = 20_000
TAGS = 1_000_000
GROUPS = 10_000
TAG_PERMISSIONS = 150_000
GROUP_PERMISSIONS = 50_000
TRANSACTIONS = 50_000
RUNNING_TRANSACTIONS = 10_000
SEED = 20261121


def campus_shape() -> list[int]:
    """Parent index (within the campus) of each node of one campus, breadth first: levels 1..8 of the site."""
    parents = [-1]
    level = [0]
    while len(parents) < NODES_PER_CAMPUS:
        next_level = []
        for parent in level:
            for _ in range(BRANCHING):
                if len(parents) == NODES_PER_CAMPUS:
                    break
                parents.append(parent)
                next_level.append(len(parents) - 1)
        level = next_level
    return parents


def build_tree() -> list[tuple[int, int | None, int, int, int]]:
    """(id, parent_id, lft, rght, level) for the whole tree, ids from 1, nested sets computed here."""
    children: dict[int, list[int]] = {1: []}
    parent_of: dict[int, int | None] = {1: None}
    next_id = 2
    for _ in range(CAMPUSES):
        ids = []
        for parent_index in campus_shape():
            node_id = next_id
            next_id += 1
            parent_id = 1 if parent_index < 0 else ids[parent_index]
            ids.append(node_id)
            parent_of[node_id] = parent_id
            children[node_id] = []
            children[parent_id].append(node_id)
    rows = []
    counter = 0
    stack = [(1, 0, False)]
    lft: dict[int, int] = {}
    while stack:
        node_id, level, closing = stack.pop()
        counter += 1
        if closing:
            rows.append((node_id, parent_of[node_id], lft[node_id], counter, level))
            continue
        lft[node_id] = counter
        stack.append((node_id, level, True))
        stack.extend((child, level + 1, False) for child in reversed(children[node_id]))
    return sorted(rows)


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def copy_model_rows(cursor, model, rows) -> None:
    """COPY rows into a model's table; columns a row leaves out take the field's default (or empty/NULL),
    so the benchmark keeps loading when the model gains a column."""
    fields = model._meta.concrete_fields

    def fallback(field):
        if field.has_default():
            value = field.get_default()
            return json.dumps(value) if isinstance(value, (dict, list)) else value
        return None if field.null else ""

    defaults = {field.column: fallback(field) for field in fields}
    columns = list(defaults)
    copy_rows(cursor, model._meta.db_table, columns, ([row.get(c, defaults[c]) for c in columns] for row in rows))


def load(rng: random.Random) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from ocpp_core.models import ChargeBox, OcppTag, Transaction
    from powerfill.accounts.models import Account

    now = timezone.now()
    print("building the tree ...", flush=True)
    tree = build_tree()
    assert max(level for *_, level in tree) == DEPTH
    with transaction.atomic(), connection.cursor() as cursor:
        for table in (
            "ocpp_core_transaction",
            "permissions_ocpptagpermission",
            "permissions_ocpptaggrouppermission",
            "ocpp_core_ocpptaggroup_ocpp_tags",
            "ocpp_core_ocpptaggroup",
            "ocpp_core_ocpptag",
            "ocpp_core_chargebox",
            "sites_node",
        ):
            cursor.execute(f"TRUNCATE {table} CASCADE")
        account, _ = Account.objects.get_or_create(name="Benchmark")
        print(f"COPY {len(tree):,} nodes ...", flush=True)
        copy_rows(
            cursor,
            "sites_node",
            [
                "id",
                "account_id",
                "name",
                "parent_id",
                "phases",
                "tree_id",
                "lft",
                "rght",
                "level",
                "created_at",
                "updated_at",
            ],
            ((i, account.pk, f"node {i}", p, 3, 1, left, right, level, now, now) for i, p, left, right, level in tree),
        )

        deep_nodes = [row[0] for row in tree if row[4] >= DEPTH - 1]
        print(f"COPY {CHARGE_BOXES:,} charge boxes ...", flush=True)
        box_nodes = rng.sample(deep_nodes, CHARGE_BOXES)
        copy_model_rows(
            cursor,
            ChargeBox,
            (
                {
                    "id": i + 1,
                    "account_id": account.pk,
                    "charge_box_id": f"CB-{i:06d}",
                    "registration_status": "Accepted",
                    "node_id": node,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, node in enumerate(box_nodes)
            ),
        )

        print(f"COPY {TAGS:,} tags ...", flush=True)
        copy_model_rows(
            cursor,
            OcppTag,
            (
                {
                    "id": i + 1,
                    "account_id": account.pk,
                    "id_tag": f"T{i:07d}",
                    "max_active_transaction_count": 2,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(TAGS)
            ),
        )
        print(f"COPY {GROUPS:,} groups and their members ...", flush=True)
        copy_rows(
            cursor,
            "ocpp_core_ocpptaggroup",
            ["id", "account_id", "name", "created_at"],
            ((g + 1, account.pk, f"Group {g}", now) for g in range(GROUPS)),
        )
        copy_rows(
            cursor,
            "ocpp_core_ocpptaggroup_ocpp_tags",
            ["ocpptaggroup_id", "ocpptag_id"],
            ((t % GROUPS + 1, t + 1) for t in range(TAGS)),
        )

        print(f"COPY {TAG_PERMISSIONS + GROUP_PERMISSIONS:,} permissions ...", flush=True)
        level_of = {row[0]: row[4] for row in tree}
        node_ids = [row[0] for row in tree]

        def permissions(count, holders):
            seen = set()
            while len(seen) < count:
                holder, node = rng.randint(1, holders), rng.choice(node_ids)
                if (holder, node) not in seen:
                    seen.add((holder, node))
                    yield holder, node, level_of[node] < DEPTH - 1  # above the lowest levels: the whole subtree

        copy_rows(
            cursor,
            "permissions_ocpptagpermission",
            ["ocpp_tag_id", "node_id", "applies_to_all_children", "created_at", "updated_at"],
            ((h, n, flag, now, now) for h, n, flag in permissions(TAG_PERMISSIONS, TAGS)),
        )
        copy_rows(
            cursor,
            "permissions_ocpptaggrouppermission",
            ["ocpp_tag_group_id", "node_id", "applies_to_all_children", "created_at", "updated_at"],
            ((h, n, flag, now, now) for h, n, flag in permissions(GROUP_PERMISSIONS, GROUPS)),
        )

        print(f"COPY {TRANSACTIONS:,} transactions ...", flush=True)
        copy_model_rows(
            cursor,
            Transaction,
            (
                {
                    "id": i + 1,
                    "charge_box_id": rng.randint(1, CHARGE_BOXES),
                    "connector_id": 1,
                    "id_tag": f"T{tag - 1:07d}",
                    "ocpp_tag_id": tag,
                    "started_at": now - timedelta(seconds=i),  # every start distinct (ocpp_core_tx_start_once)
                    "meter_start": 0,
                    "start_status": "Accepted",
                    "stopped_at": None if i < RUNNING_TRANSACTIONS else now,
                    "meter_stop": None if i < RUNNING_TRANSACTIONS else 5000,
                    "created_at": now,
                }
                for i, tag in enumerate(rng.randint(1, TAGS) for _ in range(TRANSACTIONS))
            ),
        )
        for table in (
            "sites_node",
            "ocpp_core_chargebox",
            "ocpp_core_ocpptag",
            "ocpp_core_ocpptaggroup",
            "ocpp_core_transaction",
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class QueryCounter:
    """Counts the SQL statements run inside the block (without Django's debug cursor and its overhead)."""

    def __enter__(self):
        from django.db import connection

        self.count = 0
        self._wrapper = connection.execute_wrapper(self._count)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)

    def _count(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure_checks(rng: random.Random, count: int) -> dict:
    from ocpp_core.models import ChargeBox
    from ocpp_core.selectors import charge_box_by_id
    from permissions.selectors import tag_authorization
    from powerfill.accounts.models import Account

    account = Account.objects.get(name="Benchmark")

    # Half the pairs are granted ones (a tag holding a permission above the station), half random.
    granted = list(
        ChargeBox.objects.raw(
            """SELECT cb.id, t.id_tag AS granted_id_tag FROM permissions_ocpptagpermission p
               JOIN sites_node n ON n.id = p.node_id JOIN sites_node s ON s.tree_id = n.tree_id
                    AND s.lft >= n.lft AND s.rght <= n.rght AND (p.applies_to_all_children OR s.id = n.id)
               JOIN ocpp_core_chargebox cb ON cb.node_id = s.id JOIN ocpp_core_ocpptag t ON t.id = p.ocpp_tag_id
               ORDER BY random() LIMIT %s""",
            [count // 2],
        )
    )
    pairs = [(box.charge_box_id, box.granted_id_tag) for box in granted]
    pairs += [
        (f"CB-{rng.randrange(CHARGE_BOXES):06d}", f"T{rng.randrange(TAGS):07d}") for _ in range(count - len(pairs))
    ]
    rng.shuffle(pairs)

    latencies, authorization_latencies, query_counts, allowed = [], [], [], 0
    for charge_box_id, id_tag in pairs:
        with QueryCounter() as queries:
            started = time.perf_counter()
            box = charge_box_by_id(account=account, charge_box_id=charge_box_id)
            box_loaded = time.perf_counter()
            decision = tag_authorization(id_tag=id_tag, charge_box=box)
            finished = time.perf_counter()
        latencies.append((finished - started) * 1000)
        authorization_latencies.append((finished - box_loaded) * 1000)
        query_counts.append(queries.count)
        allowed += decision.permission.allowed
    return {
        "checks": len(pairs),
        "allowed": allowed,
        "queries": sorted(set(query_counts)),
        "median_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "authorization_median_ms": statistics.median(authorization_latencies),
        "authorization_p99_ms": percentile(authorization_latencies, 0.99),
    }


def measure_subtree(runs: int = 20) -> dict:
    from django.test import Client

    from powerfill.accounts.models import Account
    from powerfill.accounts.services import api_token_create
    from sites.models import Node

    account = Account.objects.get(name="Benchmark")
    _, key = api_token_create(account=account, name="benchmark")
    campus = Node.objects.filter(level=1).order_by("lft").first()
    size = campus.get_descendant_count() + 1
    client = Client(HTTP_AUTHORIZATION=f"Token {key}", HTTP_HOST="localhost")
    client.get(f"/api/v1/sites/{campus.pk}")  # warm up
    latencies, query_counts = [], []
    for _ in range(runs):
        with QueryCounter() as queries:
            started = time.perf_counter()
            response = client.get(f"/api/v1/sites/{campus.pk}")
            latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
        query_counts.append(queries.count)
    return {
        "nodes": size,
        "bytes": len(response.content),
        "queries": sorted(set(query_counts)),
        "median_ms": statistics.median(latencies),
        "max_ms": max(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/powerfill_bench")
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--rebuild", action="store_true", help="Reload the data even if it is already there.")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powerfill.settings.test")
    os.environ.pop("REDIS_URL", None)
    ensure_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    from ocpp_core.models import OcppTag
    from sites.models import Node

    call_command("migrate", verbosity=0)
    rng = random.Random(SEED)
    expected_nodes = 1 + CAMPUSES * NODES_PER_CAMPUS
    if args.rebuild or Node.objects.count() != expected_nodes or OcppTag.objects.count() != TAGS:
        started = time.perf_counter()
        load(rng)
        print(f"loaded in {time.perf_counter() - started:.0f} s")

    checks = measure_checks(rng, args.checks)
    subtree = measure_subtree()
    print()
    print(f"Permission check, {checks['checks']:,} random pairs ({checks['allowed']:,} allowed):")
    print(
        f"  as /permissions/check does it (load the charge box, authorize): queries {checks['queries']}   "
        f"median {checks['median_ms']:.2f} ms   p99 {checks['p99_ms']:.2f} ms"
    )
    print(
        "  authorization alone (OCPP Authorize, charge box in hand): 1 query   "
        f"median {checks['authorization_median_ms']:.2f} ms   p99 {checks['authorization_p99_ms']:.2f} ms"
    )
    print(f"GET /api/v1/sites/{{id}} for a {subtree['nodes']:,}-node subtree ({subtree['bytes'] / 1e6:.1f} MB JSON):")
    print(f"  queries: {subtree['queries']}   median {subtree['median_ms']:.0f} ms   max {subtree['max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
