"""The load allocator (priority.allocator.allocate) on hand-made sites: each rule of its docstring once."""

import pytest

from priority.allocator import ConnectorDemand, NodeLimit, allocate


def site(amps=32.0, **limits):
    return [NodeLimit("grid", None, amps_per_phase=amps, **limits)]


def test_three_equal_connectors_share_a_32_a_fuse_equally():
    result = allocate(site(), [ConnectorDemand(key, "grid", max_amps=32) for key in "abc"])
    assert result == {"a": 10.6, "b": 10.6, "c": 10.6}


def test_a_higher_priority_is_served_first_and_the_others_keep_their_minimum():
    connectors = [
        ConnectorDemand("vip", "grid", max_amps=32, priority=3),
        ConnectorDemand("b", "grid", max_amps=32),
        ConnectorDemand("c", "grid", max_amps=32),
    ]
    assert allocate(site(), connectors) == {"vip": 20.0, "b": 6.0, "c": 6.0}


def test_a_connector_whose_minimum_does_not_fit_is_paused_lowest_priority_first():
    connectors = [
        ConnectorDemand(key, "grid", max_amps=16, priority=prio) for key, prio in [("a", 1), ("b", 0), ("c", -1)]
    ]
    assert allocate(site(16), connectors) == {"a": 10.0, "b": 6.0, "c": 0.0}


def test_what_a_vehicle_does_not_draw_goes_to_the_others():
    connectors = [
        ConnectorDemand("slow", "grid", max_amps=32, usable_amps=8),
        ConnectorDemand("fast", "grid", max_amps=32),
    ]
    assert allocate(site(), connectors) == {"slow": 8.0, "fast": 24.0}


def test_loads_we_cannot_steer_count_first():
    connectors = [
        ConnectorDemand("offline", "grid", max_amps=32, controllable=False, fixed_amps=20),
        ConnectorDemand("a", "grid", max_amps=32),
    ]
    assert allocate(site(), connectors) == {"a": 12.0}


def test_every_level_of_the_tree_limits_its_subtree():
    nodes = [
        NodeLimit("grid", None, amps_per_phase=63),
        NodeLimit("floor-1", "grid", amps_per_phase=16),
        NodeLimit("floor-2", "grid"),
    ]
    connectors = [
        ConnectorDemand("f1-a", "floor-1", max_amps=32),
        ConnectorDemand("f1-b", "floor-1", max_amps=32),
        ConnectorDemand("f2-a", "floor-2", max_amps=32),
        ConnectorDemand("f2-b", "floor-2", max_amps=32),
    ]
    assert allocate(nodes, connectors) == {"f1-a": 8.0, "f1-b": 8.0, "f2-a": 23.5, "f2-b": 23.5}


def test_single_phase_vehicles_are_held_by_the_asymmetry_limit():
    connectors = [
        ConnectorDemand("one-phase-a", "grid", max_amps=32, phases=(1,)),
        ConnectorDemand("one-phase-b", "grid", max_amps=32, phases=(1,)),
        ConnectorDemand("three-phase", "grid", max_amps=32),
    ]
    result = allocate(site(32, max_asymmetry_amps=20), connectors)
    assert result == {"one-phase-a": 10.0, "one-phase-b": 10.0, "three-phase": 12.0}
    # L1 = 32 A (the fuse), L2 = L3 = 12 A: 20 A apart, the limit.


def test_phase_rotation_spreads_single_phase_vehicles_over_the_phases():
    connectors = [ConnectorDemand(f"on-L{p}", "grid", max_amps=32, phases=(p,)) for p in (1, 2, 3)]
    assert allocate(site(16, max_asymmetry_amps=20), connectors) == {"on-L1": 16.0, "on-L2": 16.0, "on-L3": 16.0}


def test_a_power_cap_limits_the_sum_of_all_phases():
    connectors = [ConnectorDemand(key, "grid", max_amps=32) for key in "ab"]
    result = allocate(site(63, max_kw=22.08), connectors)  # 22.08 kW = 96 phase-amps at 230 V
    assert result == {"a": 16.0, "b": 16.0}


def test_urgency_comes_first_then_what_is_left_is_shared_equally():
    nodes = [
        NodeLimit("grid", None, amps_per_phase=24),
        NodeLimit("left", "grid", amps_per_phase=32),
        NodeLimit("right", "grid", amps_per_phase=32),
    ]
    connectors = [
        # needs 11.04 kWh in one hour: 16 A on three phases, 10 A above its minimum
        ConnectorDemand("leaves-soon", "left", max_amps=32, energy_needed_wh=11_040, seconds_left=3600),
        # needs 8.28 kWh in 1.5 hours: 8 A, 2 A above its minimum
        ConnectorDemand("leaves-later", "right", max_amps=32, energy_needed_wh=8_280, seconds_left=1.5 * 3600),
        ConnectorDemand("unknown", "grid", max_amps=32),
    ]
    # 6 A each; the 6 A left go to the urgency currents, level by level: 2 A each, then 2 A more to leaves-soon.
    assert allocate(nodes, connectors) == {"leaves-soon": 10.0, "leaves-later": 8.0, "unknown": 6.0}
    # With 36 A both reach their urgency current, and the 6 A left raise the lowest currents: unknown to 8 A, then
    # unknown and leaves-later together.
    nodes[0] = NodeLimit("grid", None, amps_per_phase=36)
    assert allocate(nodes, connectors) == {"leaves-soon": 16.0, "leaves-later": 10.0, "unknown": 10.0}


def test_a_queue_hands_its_share_out_least_laxity_first_and_a_vehicle_with_time_to_spare_waits():
    connectors = [
        # needs 11.04 kWh in one hour: 16 A on three phases
        ConnectorDemand("leaves-soon", "grid", max_amps=32, energy_needed_wh=11_040, seconds_left=3600),
        # needs 2.76 kWh in four hours: 1 A would do, but the minimum is 6 A
        ConnectorDemand("stays-long", "grid", max_amps=32, energy_needed_wh=2_760, seconds_left=4 * 3600),
        ConnectorDemand("unknown", "grid", max_amps=32),
    ]
    # Minimums (18 A), leaves-soon's 16 A urgency current, and the 4 A left shared equally between the unknown
    # vehicle and the queue of the two with a known need: 2 A each. The queue's 24 A then go to the one leaving
    # first; stays-long waits (paused) for when the site has room.
    assert allocate(site(32), connectors) == {"leaves-soon": 24.0, "stays-long": 0.0, "unknown": 8.0}


def test_a_queue_serves_the_least_laxity_first_up_to_what_it_can_draw():
    connectors = [
        ConnectorDemand("relaxed", "grid", max_amps=32, energy_needed_wh=5_000, seconds_left=10 * 3600),
        ConnectorDemand("tight", "grid", max_amps=32, energy_needed_wh=40_000, seconds_left=3 * 3600),
        ConnectorDemand("middle", "grid", max_amps=32, energy_needed_wh=20_000, seconds_left=5 * 3600),
    ]
    # 63 A for the three: tight (the least laxity) draws its 32 A, middle the 31 A left, relaxed waits.
    assert allocate(site(63), connectors) == {"relaxed": 0.0, "tight": 32.0, "middle": 31.0}
    # A minimum comes first: with 36 A, middle gets its 6 A and tight gives up the difference.
    assert allocate(site(36), connectors) == {"relaxed": 0.0, "tight": 30.0, "middle": 6.0}
    # In an expensive window only minimums and urgency currents (tight: 19.3 A), not handed out again.
    assert allocate(site(63), connectors, expensive=True) == {"relaxed": 6.0, "tight": 19.3, "middle": 6.0}


def test_connectors_that_do_not_want_power_get_nothing_and_leave_room():
    connectors = [
        ConnectorDemand("done", "grid", max_amps=32, wants_power=False),
        ConnectorDemand("a", "grid", max_amps=32),
    ]
    assert allocate(site(), connectors) == {"done": 0.0, "a": 32.0}


def test_a_tree_with_a_cycle_or_an_unknown_node_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        allocate([NodeLimit("a", "b"), NodeLimit("b", "a")], [])
    with pytest.raises(ValueError, match="Unknown node"):
        allocate(site(), [ConnectorDemand("x", "nowhere", max_amps=16)])


def test_a_peak_cap_limits_the_whole_site():
    connectors = [ConnectorDemand(key, "grid", max_amps=32) for key in "ab"]
    # 11.04 kW at 230 V over 3 phases of 2 connectors: 48 phase-amps, 8 A each.
    assert allocate(site(63), connectors, peak_cap_kw=11.04) == {"a": 8.0, "b": 8.0}


def test_an_expensive_window_gives_only_minimums_and_what_departures_need():
    connectors = [
        # 13.8 kWh in 2 h over 3 phases at 230 V: 10 A.
        ConnectorDemand("leaving", "grid", max_amps=32, energy_needed_wh=13_800, seconds_left=7200),
        ConnectorDemand("unknown", "grid", max_amps=32),
    ]
    assert allocate(site(63), connectors, expensive=True) == {"leaving": 10.0, "unknown": 6.0}
    assert allocate(site(63), connectors) == {"leaving": 31.5, "unknown": 31.5}


def test_rounding_never_widens_an_asymmetry_beyond_its_limit():
    # Unrounded, L1 carries 3 x 6.333 A = 19 A and L2, L3 20 A each: at the 1 A limit. Rounded down, L1 carries
    # 18.9 A, so L2 and L3 give up a step.
    nodes = [NodeLimit("grid", None, amps_per_phase=32, max_asymmetry_amps=1)]
    connectors = [
        *(ConnectorDemand(f"l1-{i}", "grid", max_amps=32, min_amps=1, phases=(1,), usable_amps=19 / 3) for i in "abc"),
        ConnectorDemand("l2", "grid", max_amps=32, min_amps=1, phases=(2,)),
        ConnectorDemand("l3", "grid", max_amps=32, min_amps=1, phases=(3,)),
    ]
    assert allocate(nodes, connectors) == {"l1-a": 6.3, "l1-b": 6.3, "l1-c": 6.3, "l2": 19.9, "l3": 19.9}


def test_a_connector_without_a_minimum_still_charges():
    connectors = [ConnectorDemand(key, "grid", max_amps=32, min_amps=0) for key in "ab"]
    assert allocate(site(), connectors) == {"a": 16.0, "b": 16.0}
