"""Load management: recompute a site's allocation and apply it to its chargers as charging profiles.

Events ask for a recompute of the site they touch (rebalance_request): a session starts or stops, a connector's
status changes, a vehicle draws clearly more or less than it was given, a charger connects or goes away, a
priority, need or limit changes. Celery beat recomputes every managed site periodically as well
(LOAD_REBALANCE_INTERVAL_SECONDS): time-of-use windows begin and end, and the leases of the profiles are renewed.

A burst of events makes one recompute: with a worker, the first event of a site schedules it LOAD_DEBOUNCE_SECONDS
later and the others find it scheduled; without one (the quick start: Celery eager), each event recomputes at
once. Either way one recompute of a site runs at a time, across processes (a lock in the cache), and an event that
arrives meanwhile makes the running one go again rather than being lost.

A recompute reads the site (priority.load_inputs), asks chargers whose smart-charging capabilities are unknown
(GetConfiguration), allocates (priority.allocator), then sends SetChargingProfile where something changed
(priority.charging_profiles says which profiles a charger holds): decreases first, increases once those were
answered, so the site is never above a limit in between. A session's limit is sent again when it fell at all,
rose by LOAD_CHANGE_THRESHOLD_AMPS or more, or half its lease is gone. A charger that rejects profiles, does not
support them, or does not answer is counted at its measured draw or its maximum until it is tried again.
Every recompute is kept as an AllocationRun (per node and phase: limit, allocated, measured) for the admin's chart.
"""

import logging
import math
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from ocpp.v16.enums import ChargingProfilePurposeType, ChargingProfileStatus, RegistrationStatus

from ocpp_core.charger_directory import charger_facts_changed
from ocpp_core.operations import OPERATIONS
from ocpp_core.services.operations import chargers_call
from sites.models import Node

from ..allocator import GRID_PHASES, allocate
from ..charging_profiles import (
    CAPABILITY_KEYS,
    CHARGE_POINT_MAX_PROFILE_ID,
    HOLD_PROFILE_ID,
    SAFE_PROFILE_ID,
    TX_PROFILE_ID_BASE,
    profile_payload,
)
from ..choices import PriceLevel, ProfileApplyStatus
from ..load_inputs import ConnectorState, SiteState, managed_site_root_ids, site_root_ids, site_state
from ..models import AllocationRun, ChargerLoad, ConnectorLoad

logger = logging.getLogger(__name__)

LOCK_SECONDS = 120  # longer than a recompute can take (its calls wait at most ~40 s)
SET_CHARGING_PROFILE = "SetChargingProfile"
GET_CONFIGURATION = "GetConfiguration"


def rebalance_request(*, charge_box_pks, reason: str) -> None:
    """Something changed at these charge boxes: recompute the sites they belong to (see the module docstring)."""
    for root_id in site_root_ids(charge_box_pks=charge_box_pks):
        site_rebalance_request(root_id=root_id, reason=reason)


def nodes_rebalance_after_commit(*, node_pks, reason: str) -> None:
    """Limits or assignments of these nodes change in the current transaction: once it commits, recompute the
    sites they are in then (a move may have put them into another tree)."""
    node_pks = list(node_pks)

    def request():
        charger_facts_changed()  # the site may be managed now, or no longer (load_triggers)
        tree_ids = Node.objects.filter(pk__in=node_pks).values("tree_id")
        for root_id in Node.objects.filter(tree_id__in=tree_ids, parent=None).values_list("pk", flat=True):
            site_rebalance_request(root_id=root_id, reason=reason)

    transaction.on_commit(request)


def site_rebalance_request(*, root_id: int, reason: str) -> None:
    """Recompute the site: at once without a worker, otherwise LOAD_DEBOUNCE_SECONDS from now unless that is
    scheduled already (the charger events' own way here is load_triggers, which asks the same key)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        site_rebalance(root_id=root_id, reason=reason)
        return
    if site_due_mark(root_id=root_id, reason=reason):
        site_rebalance_schedule(root_id=root_id, reason=reason)


def due_key(root_id: int) -> str:
    """The cache key that says a recompute of the site is scheduled (deleted when it starts)."""
    return _key("due", root_id)


def site_due_mark(*, root_id: int, reason: str) -> bool:
    """Mark the site's recompute as scheduled; False if it was already."""
    return cache.add(due_key(root_id), reason, timeout=due_seconds())


def due_seconds() -> int:
    """How long a "due" mark lasts at most: past the scheduled run and the longest recompute, so that a task lost
    on the way (a worker killed) holds back the site's recomputes no longer than that."""
    return math.ceil(settings.LOAD_DEBOUNCE_SECONDS) + LOCK_SECONDS


def site_rebalance_schedule(*, root_id: int, reason: str) -> None:
    from ..tasks import site_rebalance_task

    site_rebalance_task.apply_async((root_id, reason), countdown=settings.LOAD_DEBOUNCE_SECONDS)


def managed_sites_rebalance(*, reason: str = "periodic") -> int:
    """Every site with a limit and charge boxes (Celery beat)."""
    roots = managed_site_root_ids()
    for root_id in roots:
        site_rebalance_request(root_id=root_id, reason=reason)
    return len(roots)


def site_rebalance(*, root_id: int, reason: str) -> AllocationRun | None:
    """Recompute and apply, one at a time per site. Whoever holds the lock runs again while someone asked again;
    someone who asks while it is held leaves the work to the holder."""
    cache.delete(due_key(root_id))
    rerun, lock = _key("rerun", root_id), _key("lock", root_id)
    cache.set(rerun, reason, timeout=LOCK_SECONDS)
    run = None
    while cache.get(rerun) is not None:
        if not cache.add(lock, uuid.uuid4().hex, timeout=LOCK_SECONDS):
            return run
        try:
            while (asked := cache.get(rerun)) is not None:
                cache.delete(rerun)
                run = site_rebalance_once(root_id=root_id, reason=asked)
        finally:
            cache.delete(lock)
    return run


def site_rebalance_once(*, root_id: int, reason: str) -> AllocationRun | None:
    root = Node.objects.filter(pk=root_id, parent=None).first()
    if root is None or root.pk not in managed_site_root_ids(tree_id=root.tree_id):
        return None  # gone, or nothing to manage: no limit anywhere, or no charge box
    started = time.perf_counter()
    now = timezone.now()
    state = site_state(root=root, now=now)
    if _capabilities_read(state, now):
        state = site_state(root=root, now=now)
    allocation, safe = _allocations(state, now)
    sent, refused = _apply(state, allocation, safe, now)
    if refused:
        # The allocation counted on chargers that turned out not to follow it: once more, counting them at what
        # they draw (a second refusal waits for the next event; a charger is not steered again for a while).
        state = site_state(root=root, now=now)
        allocation, safe = _allocations(state, now)
        sent += _apply(state, allocation, safe, now)[0]
    _connector_loads_record(state, allocation, now)
    return AllocationRun.objects.create(
        root=root,
        computed_at=now,
        reason=reason[:64],
        duration_ms=(time.perf_counter() - started) * 1000,
        profiles_sent=sent,
        nodes=_node_loads(state, allocation),
        connectors={str(s.demand.key): allocation.get(s.demand.key) for s in state.connectors if s.connector},
    )


# Allocating


def _allocations(state: SiteState, now: datetime) -> tuple[dict, dict]:
    """The allocation now, and each connector's safe share: what it may take if every connector of the site
    charged at once and nobody steered (under the tightest peak cap of any window)."""
    window = state.window_now(now)
    demands = [s.demand for s in state.connectors]
    allocation = allocate(
        state.nodes,
        demands,
        voltage=settings.LOAD_VOLTAGE,
        peak_cap_kw=window.peak_cap_kw if window else None,
        expensive=bool(window and window.price_level == PriceLevel.EXPENSIVE),
    )
    everyone = [
        replace(
            s.demand,
            phases=s.all_grid_phases,
            wants_power=True,
            usable_amps=None,
            priority=0,
            energy_needed_wh=None,
            seconds_left=None,
        )
        if s.demand.controllable
        else s.demand
        for s in state.connectors
    ]
    caps = [w.peak_cap_kw for w in state.windows if w.peak_cap_kw is not None]
    safe = allocate(state.nodes, everyone, voltage=settings.LOAD_VOLTAGE, peak_cap_kw=min(caps) if caps else None)
    return allocation, safe


# Reading what chargers can do


def _capabilities_read(state: SiteState, now: datetime) -> bool:
    """GetConfiguration of the smart-charging keys, for connected chargers that never said (asked again after
    LOAD_RETRY_REFUSED_SECONDS). True if any answered."""
    retry_after = now - timedelta(seconds=settings.LOAD_RETRY_REFUSED_SECONDS)
    asked = {load.pk: load.capabilities_asked_at for load in ChargerLoad.objects.filter(pk__in=_box_pks(state))}
    boxes = [
        box
        for box in _steerable_boxes(state)
        if not state.capabilities[box.pk].known and (asked.get(box.pk) is None or asked[box.pk] < retry_after)
    ]
    if not boxes:
        return False
    payload = {"key": list(CAPABILITY_KEYS)}
    replies = async_to_sync(chargers_call)(GET_CONFIGURATION, [(box.pk, payload) for box in boxes])
    answered = False
    for box, reply in zip(boxes, replies, strict=True):
        ChargerLoad.objects.update_or_create(charge_box=box, defaults={"capabilities_asked_at": now})
        if reply["outcome"] == "result":
            OPERATIONS[GET_CONFIGURATION].accepted(params={}, charge_box=box, payload=payload, result=reply["payload"])
            answered = True
    return answered


# Applying


class _Send:
    """One SetChargingProfile to send, and what to record once the charger answered. `lowers`: it takes power
    away (sent in the first wave)."""

    def __init__(self, box, payload: dict, amps: float, *, kind: str, lowers: bool, state=None, level=None):
        self.box, self.payload, self.amps, self.kind, self.lowers, self.state = box, payload, amps, kind, lowers, state
        self.level = level  # our stack level, for the charger-wide profiles


def _apply(state: SiteState, allocation: dict, safe: dict, now: datetime) -> tuple[int, bool]:
    """Send what changed; (how many profiles were sent, whether a session's profile was refused or unanswered)."""
    lease = timedelta(seconds=settings.LOAD_PROFILE_LEASE_SECONDS)
    renew_before = now + lease / 2
    lease_until = now + lease
    charger_loads = {load.pk: load for load in ChargerLoad.objects.filter(pk__in=_box_pks(state))}
    by_box = defaultdict(list)
    for connector_state in state.connectors:
        if connector_state.connector is not None:
            by_box[connector_state.charge_box.pk].append(connector_state)

    sends: list[_Send] = []
    for box in _steerable_boxes(state):
        capabilities = state.capabilities[box.pk]
        if capabilities.smart_charging is False:
            continue
        charger = charger_loads.get(box.pk) or ChargerLoad(charge_box=box)
        connectors = [s for s in by_box[box.pk] if s.demand.controllable]
        if not connectors:
            continue
        level = capabilities.stack_level
        phases = max(len(s.all_grid_phases) for s in connectors)

        profile = partial(
            profile_payload,
            stack_level=level,
            connector_id=0,
            phases=phases,
            capabilities=capabilities,
            voltage=settings.LOAD_VOLTAGE,
        )

        if charger.max_profile_amps is None or abs(charger.max_profile_amps - box.max_current_a) > 1e-6:
            payload = profile(
                profile_id=CHARGE_POINT_MAX_PROFILE_ID,
                purpose=ChargingProfilePurposeType.charge_point_max_profile,
                amps=box.max_current_a,
                starting=now,
            )
            lowers = charger.max_profile_amps is None or box.max_current_a < charger.max_profile_amps
            sends.append(_Send(box, payload, box.max_current_a, kind="max", lowers=lowers))
        safe_amps = min(safe.get(s.demand.key, 0.0) for s in connectors)
        # Capabilities learnt since (a stack level of our own): the charger-wide profiles move to the new levels.
        relevel = charger.stack_level != level
        if relevel or charger.safe_amps is None or abs(charger.safe_amps - safe_amps) > 1e-6:
            payload = profile(
                profile_id=SAFE_PROFILE_ID,
                purpose=ChargingProfilePurposeType.tx_default_profile,
                amps=safe_amps,
                stack_level=level - 1 if capabilities.has_hold_level else level,
            )
            lowers = charger.safe_amps is None or safe_amps < charger.safe_amps
            sends.append(_Send(box, payload, safe_amps, kind="safe", lowers=lowers, level=level))
        if capabilities.has_hold_level and (relevel or charger.hold_until is None or charger.hold_until < renew_before):
            payload = profile(
                profile_id=HOLD_PROFILE_ID,
                purpose=ChargingProfilePurposeType.tx_default_profile,
                amps=0.0,
                valid_to=lease_until,
            )
            sends.append(_Send(box, payload, 0.0, kind="hold", lowers=True, level=level))
        for connector_state in connectors:
            if connector_state.transaction_id is None or not connector_state.demand.wants_power:
                continue
            amps = allocation.get(connector_state.demand.key, 0.0)
            load = _load_of(connector_state)
            unchanged = (
                load is not None
                and load.apply_status == ProfileApplyStatus.ACCEPTED
                and load.applied_transaction_id == connector_state.transaction_id
                and load.applied_amps is not None
                and load.applied_amps - 1e-9 <= amps < load.applied_amps + settings.LOAD_CHANGE_THRESHOLD_AMPS
                and load.applied_until is not None
                and load.applied_until >= renew_before
            )
            if unchanged:
                continue
            payload = profile(
                profile_id=TX_PROFILE_ID_BASE + connector_state.connector_id,
                purpose=ChargingProfilePurposeType.tx_profile,
                amps=amps,
                connector_id=connector_state.connector_id,
                phases=connector_state.charger_phases,
                valid_to=lease_until,
                transaction_id=connector_state.transaction_id,
            )
            # A session that holds no profile of ours yet is under the hold (0 A): its first profile raises.
            lowers = (
                load is not None
                and load.applied_transaction_id == connector_state.transaction_id
                and load.applied_amps is not None
                and amps < load.applied_amps
            )
            sends.append(_Send(box, payload, amps, kind="tx", lowers=lowers, state=connector_state))

    # Lower first, then raise: between the two waves the site stays under its limits.
    first = [send for send in sends if send.lowers]
    second = [send for send in sends if not send.lowers]
    refused = False
    for wave in (first, second):
        if wave:
            replies = async_to_sync(chargers_call)(SET_CHARGING_PROFILE, [(s.box.pk, s.payload) for s in wave])
            for send, reply in zip(wave, replies, strict=True):
                status = _record_answer(send, reply, now, lease_until, charger_loads)
                refused = refused or (send.kind == "tx" and status != ProfileApplyStatus.ACCEPTED)
    return len(sends), refused


def _record_answer(send: _Send, reply: dict, now, lease_until, charger_loads: dict) -> str:
    status = _apply_status(reply)
    accepted = status == ProfileApplyStatus.ACCEPTED
    if send.state is not None:
        fields = {"apply_status": status, "applied_at": now}
        if accepted:
            fields |= {
                "applied_amps": send.amps,
                "applied_purpose": ChargingProfilePurposeType.tx_profile.value,
                "applied_transaction_id": send.state.transaction_id,
                "applied_until": lease_until,
            }
        ConnectorLoad.objects.update_or_create(connector=send.state.connector, defaults=fields)
        return status
    fields = {"apply_status": status}
    if accepted and send.kind in ("safe", "hold"):
        fields["stack_level"] = send.level
    if accepted:
        fields |= {
            {"max": "max_profile_amps", "safe": "safe_amps", "hold": "hold_until"}[send.kind]: (
                lease_until if send.kind == "hold" else send.amps
            )
        }
    charger, _ = ChargerLoad.objects.update_or_create(charge_box=send.box, defaults=fields)
    charger_loads[send.box.pk] = charger
    return status


def _apply_status(reply: dict) -> str:
    if reply["outcome"] == "result":
        if reply["payload"].get("status") == ChargingProfileStatus.accepted:
            return ProfileApplyStatus.ACCEPTED
        if reply["payload"].get("status") == ChargingProfileStatus.not_supported:
            return ProfileApplyStatus.NOT_SUPPORTED
        return ProfileApplyStatus.REJECTED
    if reply["outcome"] == "call_error":
        if reply["code"] in ("NotSupported", "NotImplemented"):
            return ProfileApplyStatus.NOT_SUPPORTED
        return ProfileApplyStatus.ERROR
    if reply["outcome"] == "timeout":
        return ProfileApplyStatus.NO_ANSWER
    return ProfileApplyStatus.NOT_SENT


# Recording


def _connector_loads_record(state: SiteState, allocation: dict, now: datetime) -> None:
    """Each connector's allocation and learned phases, in one statement for the site."""
    rows = []
    for connector_state in state.connectors:
        if connector_state.connector is None:
            continue
        load = _load_of(connector_state)
        rows.append(
            ConnectorLoad(
                connector_id=connector_state.connector.pk,
                allocated_amps=allocation.get(connector_state.demand.key),
                allocated_at=now,
                phases_in_use=connector_state.learned_phases or (load.phases_in_use if load else ""),
            )
        )
    ConnectorLoad.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["connector"],
        update_fields=["allocated_amps", "allocated_at", "phases_in_use"],
    )


def _node_loads(state: SiteState, allocation: dict) -> dict:
    """Per node: its limit, and per grid phase what is allocated (steered connectors as allocated, the others as
    counted) and what was measured, summed over its subtree."""
    parents = {node.id: node.parent_id for node in state.nodes}
    limits = {node.id: node.amps_per_phase for node in state.nodes}
    allocated = defaultdict(lambda: [0.0, 0.0, 0.0])
    measured = defaultdict(lambda: [0.0, 0.0, 0.0])
    for connector_state in state.connectors:
        demand = connector_state.demand
        amps = allocation.get(demand.key, 0.0) if demand.controllable else demand.fixed_amps
        node_id = demand.node_id
        while node_id is not None:
            for phase in demand.phases:
                allocated[node_id][phase - 1] += amps
            for phase, value in connector_state.measured_grid.items():
                measured[node_id][phase - 1] += value
            node_id = parents[node_id]
    return {
        str(node_id): {
            "limit": limits[node_id],
            "allocated": [round(allocated[node_id][p - 1], 1) for p in GRID_PHASES],
            "measured": [round(measured[node_id][p - 1], 1) for p in GRID_PHASES],
        }
        for node_id in parents
    }


# Helpers


def _steerable_boxes(state: SiteState) -> list:
    boxes = {s.charge_box.pk: s.charge_box for s in state.connectors}
    return [
        box for box in boxes.values() if box.is_connected and box.registration_status == RegistrationStatus.accepted
    ]


def _box_pks(state: SiteState) -> list[int]:
    return list({s.charge_box.pk for s in state.connectors})


def _load_of(connector_state: ConnectorState | None) -> ConnectorLoad | None:
    if connector_state is None or connector_state.connector is None:
        return None
    return getattr(connector_state.connector, "load", None)


def _key(kind: str, root_id: int) -> str:
    return f"load:{kind}:{root_id}"
