# Tests for autonomic.scaling.bounds. Tests named after Apache Brooklyn's
# AutoScalerPolicy*Test methods port those cases: Brooklyn's pool hot/cold
# messages carry totals or per-node values; here every value is per member
# (a message's workrate and thresholds divided by the pool size), which gives
# the same sizes because only their ratios matter. Brooklyn's wall-clock
# delays (about a second) become whole seconds of input.now.
package autonomic.scaling.bounds_test

import rego.v1

import data.autonomic.scaling.bounds

# ---------------------------------------------------------------- helpers

_cfg := {"metric": "load", "lower_bound": 50, "upper_bound": 100}

# Brooklyn's hot/cold message thresholds (per member).
_cfg_10_20 := {"metric": "load", "lower_bound": 10, "upper_bound": 20}

_in(cfg, replicas, value) := {
	"now": 1000,
	"entity": {
		"id": "shop/web",
		"name": "web",
		"type": "web-cluster",
		"config": {"bounds_scaling": cfg},
		"lifecycle": "running",
		"up": true,
		"sensors": {"replicas": replicas, "load": value},
		"effectors": ["resize"],
	},
	"children": [],
	"knowledge": {"actions": [], "remembered": {}, "history": {}, "cooldowns": {}},
	"events": [],
}

_with(inp, patch) := object.union(inp, patch)

_hist(inp, now, sizes) := object.union(inp, {
	"now": now,
	"knowledge": {"history": {"desired_sizes": sizes}},
})

_decide(inp) := d if {
	d := bounds.decision with input as inp
}

_size(cfg, replicas, value) := _decide(_in(cfg, replicas, value)).desired_size

_names(d) := [s.name | some s in d.symptoms]

_standard_fields(d) if {
	is_array(d.symptoms)
	is_array(d.actions)
	d.escalate == []
	is_object(d.remember)
	is_string(d.reason)
	d.reason != ""
	"desired_size" in object.keys(d)
	"recommendation" in object.keys(d)
}

# Nothing done, explained by exactly one symptom.
_nothing_done(d, name) if {
	_standard_fields(d)
	d.actions == []
	d.remember == {}
	d.desired_size == null
	d.recommendation == null
	_names(d) == [name]
}

_resizes_to(d, n) if {
	d.desired_size == n
	d.actions == [{
		"target": "self",
		"effector": "resize",
		"args": {"replicas": n},
		"reason": d.reason,
	}]
}

_keeps(d, n) if {
	d.desired_size == n
	d.actions == []
}

# ---------------------------------------------------------------- AutoScalerPolicyMetricTest

test_increments_size_iff_upper_bound_exceeded if {
	_keeps(_decide(_in(_cfg, 1, 100)), 1)
	_resizes_to(_decide(_in(_cfg, 1, 101)), 2)
}

test_decrements_size_iff_lower_bound_exceeded if {
	_keeps(_decide(_in(_cfg, 2, 50)), 2)
	_resizes_to(_decide(_in(_cfg, 2, 49)), 1)
}

test_increments_size_in_proportion_to_metric if {
	# (200 * 5) / 100 = 10
	_size(_cfg, 5, 200) == 10

	# (10 * 110) / 100 = 11
	_size(_cfg, 10, 110) == 11
}

test_decrements_size_in_proportion_to_metric if {
	# (49 * 5) / 50 = 4.9
	_size(_cfg, 5, 49) == 4

	# (25 * 4) / 50 = 2
	_size(_cfg, 4, 25) == 2
	_size(_cfg, 2, 0) == 1
}

test_obeys_min_and_max_size if {
	cfg := object.union(_cfg, {"min_pool_size": 2, "max_pool_size": 6})
	_size(cfg, 4, 0) == 2
	_size(cfg, 2, 100000) == 6
}

test_warns_when_max_cap_reached if {
	cfg := object.union(_cfg, {"max_pool_size": 6})

	# 600 at one member needs exactly 6: no warning
	d1 := _decide(_in(cfg, 1, 600))
	_resizes_to(d1, 6)
	not "max_size_reached" in _names(d1)
	d1.remember == {}

	# 100000 at 6 members would need 6000: warned once
	d2 := _decide(_in(cfg, 6, 100000))
	_keeps(d2, 6)
	some s in d2.symptoms
	s.name == "max_size_reached"
	s.severity == "warning"
	s.detail == {"replicas": 6, "max_pool_size": 6, "ideal_size": 6000}
	d2.remember == {bounds.remember_key: true}

	# the next rounds, with that remembered, do not warn again
	d3 := _decide(_with(_in(cfg, 6, 100000), {"knowledge": {"remembered": d2.remember}}))
	not "max_size_reached" in _names(d3)
	d3.remember == {}
}

test_destruction_state if {
	# Brooklyn: a destroyed policy does nothing. Here: no config, no resize.
	inp := _with(_in(_cfg, 1, 100000), {"entity": {"config": {"bounds_scaling": null}}})
	_nothing_done(_decide(inp), "bounds_config_missing")
}

test_on_failed_grow_will_set_highwater_mark_and_not_resize_above_that_again if {
	# (200 * 1) / 100 = 2
	_resizes_to(_decide(_in(_cfg, 1, 200)), 2)

	# (2 * 110) / 100 = 2.1: asks for 3 (which fails for lack of capacity)
	_resizes_to(_decide(_in(_cfg, 2, 110)), 3)

	# the cluster now publishes the high-water mark 2: no new attempt
	hwm := {"entity": {"sensors": {"capacity_high_water_mark": 2}}}
	d := _decide(_with(_in(_cfg, 2, 110), hwm))
	_keeps(d, 2)
	d.recommendation == 2

	# shrinking is still possible, and growing again only up to the mark
	_resizes_to(_decide(_with(_in(_cfg, 2, 1), hwm)), 1)
	_resizes_to(_decide(_with(_in(_cfg, 1, 10000), hwm)), 2)
}

test_on_failed_grow_with_stabilization_delay_will_set_highwater_mark_and_not_resize_above_that_again if {
	# desired sizes recorded before the mark was discovered do not lift the
	# stabilized size above it
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	inp := _with(
		_hist(_in(cfg, 1, 1100), 1010, [{"size": 3, "time": 1000}, {"size": 6, "time": 1005}]),
		{"entity": {"sensors": {"capacity_high_water_mark": 2}}},
	)
	d := _decide(inp)
	d.recommendation == 2
	_resizes_to(d, 2)
}

# ---------------------------------------------------------------- AutoScalerPolicyTest

test_shrink_cold_pool if {
	# 30 over 4 members, 10..20 each: 3 keeps >= 10 per member
	_resizes_to(_decide(_in(_cfg_10_20, 4, 30 / 4)), 3)
}

test_shrink_cold_pool_totals if {
	# totals 30 against 40..80 for 4 members
	cfg := {"metric": "load", "lower_bound": 40 / 4, "upper_bound": 80 / 4}
	_resizes_to(_decide(_in(cfg, 4, 30 / 4)), 3)
}

test_shrink_cold_pool_rounds_up_desired_number_of_containers if {
	_resizes_to(_decide(_in(_cfg_10_20, 4, 1 / 4)), 1)
}

test_grow_hot_pool if {
	_resizes_to(_decide(_in(_cfg_10_20, 2, 21)), 3)
}

test_grow_hot_pool_totals if {
	# total 41 against 20..40 for 2 members
	_resizes_to(_decide(_in(_cfg_10_20, 2, 41 / 2)), 3)
}

test_grow_shrink_respects_resize_iteration_increment_and_resize_iteration_max if {
	cfg := object.union(_cfg_10_20, {
		"resize_up_increment": 2,
		"resize_up_max": 4,
		"resize_down_increment": 3,
		"resize_down_max": 3,
	})

	# 3 would do, but the increment is 2
	_size(cfg, 2, 42 / 2) == 4

	# 10 wanted, a single step can only reach 8, then 10
	_size(cfg, 4, 200 / 4) == 8
	_size(cfg, 8, 200 / 8) == 10

	# shrink by 3 at a time, down to the minimum
	shrink := object.union(cfg, {"min_pool_size": 2})
	_size(shrink, 10, 1) == 7
	_size(shrink, 7, 1) == 4
	_size(shrink, 4, 1) == 2
}

test_never_shrink_below_minimum if {
	cfg := object.union(_cfg_10_20, {"min_pool_size": 2})
	_size(cfg, 4, 0) == 2
}

test_never_grow_above_maximum if {
	cfg := object.union(_cfg_10_20, {"max_pool_size": 5})
	_size(cfg, 4, 1000000 / 4) == 5
}

test_never_grow_cold_pool if {
	# the down increment rounds the step past zero, anti-thrashing brings it
	# back up to the current size: the cold pool is left alone
	cfg := object.union(_cfg_10_20, {"resize_down_increment": 5})
	d := _decide(_in(cfg, 2, 1 / 2))
	d.recommendation == 2
	_keeps(d, 2)
	_names(d) == ["pool_cold"]
}

test_never_grow_cold_pool_below_min_pool_size if {
	# a cold reading never proposes growth; the pool limit alone lifts the size
	cfg := object.union(_cfg_10_20, {"min_pool_size": 3})
	d := _decide(_in(cfg, 2, 1))
	d.recommendation == 2
	_resizes_to(d, 3)
}

test_never_shrink_hot_pool if {
	cfg := object.union(_cfg_10_20, {"max_pool_size": 2})
	d := _decide(_in(cfg, 2, 50))
	d.recommendation == 2
	_keeps(d, 2)
	_names(d) == ["pool_hot", "max_size_reached"]
}

test_concurrent_shrink_shrink if {
	# an earlier round wanted 3; this one wants 1: the latest wins
	inp := _hist(_in(_cfg_10_20, 4, 1 / 4), 1000, [{"size": 3, "time": 999}])
	_resizes_to(_decide(inp), 1)
}

test_concurrent_grow_grow if {
	inp := _hist(_in(_cfg_10_20, 2, 81 / 2), 1000, [{"size": 3, "time": 999}])
	_resizes_to(_decide(inp), 5)
}

test_concurrent_grow_shrink if {
	inp := _hist(_in(_cfg_10_20, 2, 1 / 2), 1000, [{"size": 5, "time": 999}])
	_resizes_to(_decide(inp), 1)
}

test_concurrent_shrink_grow if {
	inp := _hist(_in(_cfg_10_20, 4, 81 / 4), 1000, [{"size": 1, "time": 999}])
	_resizes_to(_decide(inp), 5)
}

test_repeated_queued_resize_takes_latest_value_rather_than_intermediate_values if {
	inp := _hist(_in(_cfg_10_20, 4, 10 / 4), 1000, [{"size": 3, "time": 998}, {"size": 2, "time": 999}])
	_resizes_to(_decide(inp), 1)
}

test_resize_up_stabilization_delay_ignores_blip if {
	cfg := object.union(_cfg_10_20, {"resize_up_stabilization_s": 10})

	# the blip: wants 4, the window is not covered yet
	d1 := _decide(_hist(_in(cfg, 1, 61), 1000, []))
	d1.recommendation == 4
	_keeps(d1, 1)

	# then 1 is adequate again
	blip := [{"size": 4, "time": 1000}, {"size": 1, "time": 1005}]
	_keeps(_decide(_hist(_in(cfg, 1, 11), 1005, [{"size": 4, "time": 1000}])), 1)
	_keeps(_decide(_hist(_in(cfg, 1, 11), 1010, blip)), 1)
	_keeps(_decide(_hist(_in(cfg, 1, 11), 1020, blip)), 1)
}

test_resize_up_stabilization_delay_takes_max_sustained_desired if {
	cfg := object.union(_cfg_10_20, {"resize_up_stabilization_s": 10})
	h := [{"size": 4, "time": 1000}, {"size": 2, "time": 1001}, {"size": 4, "time": 1006}]

	# not covered before 10 s
	_keeps(_decide(_hist(_in(cfg, 1, 61), 1009, h)), 1)

	# grows to 2: the most sustained over the window
	_resizes_to(_decide(_hist(_in(cfg, 1, 61), 1011, h)), 2)

	# then to 4, 10 s after 4 was last asked for alone
	h2 := array.concat(h, [{"size": 4, "time": 1011}])
	_keeps(_decide(_hist(_in(cfg, 2, 61 / 2), 1015, h2)), 2)
	_resizes_to(_decide(_hist(_in(cfg, 2, 61 / 2), 1016, h2)), 4)
}

test_resize_up_stabilization_delay_resizes_after_delay if {
	cfg := object.union(_cfg_10_20, {"resize_up_stabilization_s": 10})
	_keeps(_decide(_hist(_in(cfg, 1, 61), 1005, [{"size": 4, "time": 1000}])), 1)
	_resizes_to(
		_decide(_hist(_in(cfg, 1, 61), 1010, [{"size": 4, "time": 1000}, {"size": 4, "time": 1005}])),
		4,
	)
}

test_resize_down_stabilization_delay_ignores_blip if {
	cfg := object.union(_cfg_10_20, {"resize_down_stabilization_s": 10})
	d1 := _decide(_hist(_in(cfg, 2, 1 / 2), 1000, []))
	d1.recommendation == 1
	_keeps(d1, 2)

	blip := [{"size": 1, "time": 1000}, {"size": 2, "time": 1005}]
	_keeps(_decide(_hist(_in(cfg, 2, 10), 1010, blip)), 2)
	_keeps(_decide(_hist(_in(cfg, 2, 10), 1020, blip)), 2)
}

test_resize_down_stabilization_delay_takes_min_sustained_desired if {
	cfg := object.union(_cfg_10_20, {"resize_down_stabilization_s": 10})
	h := [{"size": 1, "time": 1000}, {"size": 2, "time": 1001}, {"size": 1, "time": 1006}]
	_keeps(_decide(_hist(_in(cfg, 3, 1 / 3), 1009, h)), 3)
	_resizes_to(_decide(_hist(_in(cfg, 3, 1 / 3), 1011, h)), 2)

	h2 := array.concat(h, [{"size": 1, "time": 1011}])
	_keeps(_decide(_hist(_in(cfg, 2, 1 / 2), 1015, h2)), 2)
	_resizes_to(_decide(_hist(_in(cfg, 2, 1 / 2), 1016, h2)), 1)
}

test_resize_down_stabilization_delay_resizes_after_delay if {
	cfg := object.union(_cfg_10_20, {"resize_down_stabilization_s": 10})
	_keeps(_decide(_hist(_in(cfg, 2, 1 / 2), 1005, [{"size": 1, "time": 1000}])), 2)
	_resizes_to(
		_decide(_hist(_in(cfg, 2, 1 / 2), 1010, [{"size": 1, "time": 1000}, {"size": 1, "time": 1005}])),
		1,
	)
}

# ---------------------------------------------------------------- AutoScalerPolicyReconfigurationTest

test_increase_min_pool_size_causes_immediate_growth if {
	cfg := object.union(_cfg, {"min_pool_size": 3})
	d := _decide(_in(cfg, 2, 75))
	d.recommendation == 2
	_resizes_to(d, 3)
}

test_decrease_min_pool_size_allows_subsequent_shrink if {
	# 25 * 4 = 100: 2 members at 50 each
	_size(object.union(_cfg, {"min_pool_size": 2}), 4, 25) == 2
	_size(object.union(_cfg, {"min_pool_size": 1}), 2, 0) == 1
}

test_decrease_max_pool_size_causes_immediate_shrink if {
	# immediate: pool limits are not subject to stabilization
	cfg := object.union(_cfg, {"max_pool_size": 4, "resize_down_stabilization_s": 120})
	d := _decide(_in(cfg, 6, 75))
	d.recommendation == 6
	_resizes_to(d, 4)
}

test_increase_max_pool_size_allows_subsequent_growth if {
	# 200 * 3 = 600: 6 members at 100 each
	_size(object.union(_cfg, {"max_pool_size": 6}), 3, 200) == 6
	_size(object.union(_cfg, {"max_pool_size": 8}), 6, 100000) == 8
}

test_reconfigure_metric_lower_bound if {
	_keeps(_decide(_in(_cfg, 2, 50)), 2)
	_resizes_to(_decide(_in(object.union(_cfg, {"lower_bound": 51}), 2, 50)), 1)
}

test_reconfigure_metric_upper_bound if {
	_keeps(_decide(_in(_cfg, 1, 100)), 1)
	_resizes_to(_decide(_in(object.union(_cfg, {"upper_bound": 99}), 1, 100)), 2)
}

test_reconfigure_resize_up_stabilization_delay if {
	_keeps(_decide(_in(object.union(_cfg, {"resize_up_stabilization_s": 120}), 1, 101)), 1)
	_resizes_to(_decide(_in(object.union(_cfg, {"resize_up_stabilization_s": 0}), 1, 101)), 2)
}

test_reconfigure_resize_down_stabilization_delay if {
	_keeps(_decide(_in(object.union(_cfg, {"resize_down_stabilization_s": 120}), 2, 1)), 2)
	_resizes_to(_decide(_in(object.union(_cfg, {"resize_down_stabilization_s": 0}), 2, 1)), 1)
}

# ---------------------------------------------------------------- AutoScalerPolicyPoolSizeTest

test_resize_up if {
	# members expunged below the minimum: back up to it
	cfg := object.union(_cfg, {"min_pool_size": 2, "max_pool_size": 4})
	_resizes_to(_decide(_in(cfg, 1, 75)), 2)
}

test_resize_down if {
	cfg := object.union(_cfg, {"min_pool_size": 4, "max_pool_size": 4})
	_resizes_to(_decide(_in(cfg, 6, 75)), 4)
}

# ---------------------------------------------------------------- AutoScalerPolicyNoMoreMachinesTest

test_metric_resizing_beyond_max_machines if {
	cfg := {"metric": "load", "lower_bound": 10, "upper_bound": 20}
	_resizes_to(_decide(_in(cfg, 1, 21)), 2)
	_keeps(_decide(_in(cfg, 2, 19)), 2)

	# too hot for 2: asks for 3, which fails; the mark then stops retries
	_resizes_to(_decide(_in(cfg, 2, 22)), 3)
	hwm := {"entity": {"sensors": {"capacity_high_water_mark": 2}}}
	_keeps(_decide(_with(_in(cfg, 2, 22), hwm)), 2)
	_keeps(_decide(_with(_in(cfg, 2, 21), hwm)), 2)
}

test_pool_hot_sensor_resizing_beyond_max_machines if {
	hwm := {"entity": {"sensors": {"capacity_high_water_mark": 2}}}
	_keeps(_decide(_with(_in(_cfg_10_20, 2, 42 / 2), hwm)), 2)
	_keeps(_decide(_with(_in(_cfg_10_20, 2, 84 / 2), hwm)), 2)
}

# ---------------------------------------------------------------- bounds and classification

test_reading_exactly_on_a_bound_is_in_range if {
	d1 := _decide(_in(_cfg, 3, 100))
	d2 := _decide(_in(_cfg, 3, 50))
	_keeps(d1, 3)
	_keeps(d2, 3)
	d1.symptoms == []
	d2.symptoms == []
	d1.recommendation == 3
}

test_in_range_reading_proposes_current_size if {
	d := _decide(_hist(_in(_cfg, 3, 75), 1000, [{"size": 9, "time": 999}]))
	d.recommendation == 3
	_keeps(d, 3)
	d.remember == {}
	contains(d.reason, "within bounds")
}

test_bound_counts_only_if_positive if {
	cfg := {"metric": "load", "lower_bound": 0, "upper_bound": -5}
	d := _decide(_in(cfg, 3, 1000000))
	_keeps(d, 3)
	d.symptoms == []
	_keeps(_decide(_in(cfg, 3, -10)), 3)
}

test_no_bounds_never_resizes if {
	_keeps(_decide(_in({"metric": "load"}, 3, 1000000)), 3)
}

test_upper_bound_only_grows_and_never_shrinks if {
	cfg := {"metric": "load", "upper_bound": 100}
	_size(cfg, 3, 1) == 3
	_size(cfg, 3, 150) == 5
}

test_lower_bound_only_shrinks_without_anti_thrashing if {
	cfg := {"metric": "load", "lower_bound": 50}
	_size(cfg, 4, 1000000) == 4
	_size(cfg, 4, 49) == 3
	_size(cfg, 5, 10) == 1
}

test_inverted_bounds_hot_wins if {
	cfg := {"metric": "load", "lower_bound": 100, "upper_bound": 50}
	d := _decide(_in(cfg, 2, 75))
	_names(d) == ["pool_hot"]
	_resizes_to(d, 3)
}

test_hot_symptom_detail if {
	d := _decide(_in(_cfg, 5, 200))
	d.symptoms == [{
		"name": "pool_hot",
		"severity": "warning",
		"detail": {"metric": "load", "value": 200, "upper_bound": 100, "replicas": 5, "ideal_size": 10},
	}]
}

test_cold_symptom_detail if {
	d := _decide(_in(_cfg, 5, 49))
	d.symptoms == [{
		"name": "pool_cold",
		"severity": "info",
		"detail": {"metric": "load", "value": 49, "lower_bound": 50, "replicas": 5, "ideal_size": 4},
	}]
}

test_negative_metric_is_cold if {
	_size(_cfg, 4, -5) == 1
}

test_zero_replicas_hot_grows_to_min_pool_size if {
	_resizes_to(_decide(_in(_cfg, 0, 500)), 1)
}

test_zero_replicas_in_range_grows_to_min_pool_size if {
	_resizes_to(_decide(_in(object.union(_cfg, {"min_pool_size": 2}), 0, 75)), 2)
}

test_min_pool_size_zero_allows_scale_to_zero if {
	_size(object.union(_cfg, {"min_pool_size": 0}), 3, 0) == 0
}

test_huge_metric_saturates_at_java_int_max if {
	d := _decide(_in(_cfg, 10, 1e308))
	d.desired_size == bounds.int_max
	not "max_size_reached" in _names(d)
}

test_integral_float_replicas_are_accepted if {
	_size(_cfg, 3.0, 120) == 4
}

# ---------------------------------------------------------------- step shaping and anti-thrashing

test_resize_up_max_caps_a_step if {
	_size(object.union(_cfg, {"resize_up_max": 3}), 1, 1000) == 4
}

test_resize_up_increment_rounds_a_step_up if {
	_size(object.union(_cfg, {"resize_up_increment": 4}), 2, 150) == 6
}

test_resize_up_increment_rounding_is_clamped_to_max_pool_size if {
	_size(object.union(_cfg, {"resize_up_increment": 4, "max_pool_size": 4}), 2, 150) == 4
}

test_step_rounding_can_exceed_resize_up_max_as_in_brooklyn if {
	# Brooklyn rounds a step up to the increment only when it is not above the
	# maximum, so a step of 3 (max 3, increment 2) becomes 4, while a step of
	# 4 becomes 3
	cfg := object.union(_cfg_10_20, {"resize_up_increment": 2, "resize_up_max": 3})
	_size(cfg, 2, 45) == 6
	_size(cfg, 2, 60) == 5
}

test_resize_down_max_caps_a_step if {
	_size(object.union(_cfg, {"resize_down_max": 2}), 10, 0) == 8
}

test_resize_down_increment_rounds_a_step_up if {
	# 4 at 49 wants 3 (a step of 1), rounded to a step of 2
	_size(object.union(_cfg, {"resize_down_increment": 2}), 4, 49) == 2
}

test_anti_thrash_does_not_shrink_into_a_hot_pool if {
	# total 15: the lower bound 10 allows 1, but 1 member would carry 15 > 12
	cfg := {"metric": "load", "lower_bound": 10, "upper_bound": 12}
	d := _decide(_in(cfg, 3, 5))
	d.recommendation == 2
	_resizes_to(d, 2)
}

test_anti_thrash_steps_back_by_the_down_increment if {
	# total 15 at 5 members: step 4 to 1, then back up by 2 to 3 (2 would do)
	cfg := {"metric": "load", "lower_bound": 10, "upper_bound": 12, "resize_down_increment": 2}
	_size(cfg, 5, 3) == 3
}

test_anti_thrash_can_cancel_the_shrink if {
	cfg := {"metric": "load", "lower_bound": 10, "upper_bound": 11}
	d := _decide(_in(cfg, 2, 7.5))
	d.recommendation == 2
	_keeps(d, 2)
	_names(d) == ["pool_cold"]
}

# ---------------------------------------------------------------- stabilization windows

test_zero_window_is_this_round_alone if {
	h := [{"size": 1, "time": 990}, {"size": 9, "time": 1000}]
	_resizes_to(_decide(_hist(_in(_cfg, 3, 150), 1000, h)), 5)
	_resizes_to(_decide(_hist(_in(_cfg, 3, 40), 1000, h)), 2)
}

test_window_value_exactly_at_boundary_covers_it if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	_resizes_to(_decide(_hist(_in(cfg, 3, 150), 1000, [{"size": 6, "time": 990}])), 5)
}

test_window_not_covered_by_later_values if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	d := _decide(_hist(_in(cfg, 3, 150), 1000, [{"size": 6, "time": 990.5}]))
	d.recommendation == 5
	_keeps(d, 3)
	contains(d.reason, "held back by stabilization")
}

test_window_holds_latest_value_at_or_before_its_start if {
	# the value at 985 is superseded by the one at 988, which opens the window
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	h := [{"size": 3, "time": 985}, {"size": 4, "time": 988}, {"size": 8, "time": 995}]
	_resizes_to(_decide(_hist(_in(cfg, 3, 250), 1000, h)), 4)
}

test_grow_to_smallest_over_up_window if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	h := [{"size": 7, "time": 990}, {"size": 5, "time": 994}, {"size": 9, "time": 998}]
	_resizes_to(_decide(_hist(_in(cfg, 3, 300), 1000, h)), 5)
}

test_shrink_to_largest_over_down_window if {
	cfg := object.union(_cfg, {"resize_down_stabilization_s": 10})
	h := [{"size": 2, "time": 990}, {"size": 4, "time": 994}, {"size": 1, "time": 998}]
	_resizes_to(_decide(_hist(_in(cfg, 6, 10), 1000, h)), 4)
}

test_up_window_does_not_delay_shrinking if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 300})
	_resizes_to(_decide(_in(cfg, 4, 25)), 2)
}

test_down_window_does_not_delay_growing if {
	cfg := object.union(_cfg, {"resize_down_stabilization_s": 300})
	_resizes_to(_decide(_in(cfg, 4, 150)), 6)
}

test_history_entry_at_now_does_not_outrank_this_round if {
	h := [{"size": 9, "time": 1000}]
	_resizes_to(_decide(_hist(_in(_cfg, 3, 150), 1000, h)), 5)
}

test_malformed_history_entries_are_ignored if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	h := [1, null, "x", {"size": "6", "time": 980}, {"size": 6}, {"time": 980}, {"size": null, "time": 980}]
	_keeps(_decide(_hist(_in(cfg, 3, 150), 1000, h)), 3)
	h2 := array.concat(h, [{"size": 6, "time": 985}])
	_resizes_to(_decide(_hist(_in(cfg, 3, 150), 1000, h2)), 5)
}

test_history_that_is_not_a_list_is_ignored if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10})
	inp := _with(_in(cfg, 3, 150), {"knowledge": {"history": {"desired_sizes": {"size": 6, "time": 900}}}})
	_keeps(_decide(inp), 3)
	_resizes_to(_decide(_with(_in(_cfg, 3, 150), {"knowledge": "none"})), 5)
}

test_missing_knowledge_is_fine if {
	inp := json.remove(_in(_cfg, 3, 150), ["knowledge"])
	_resizes_to(_decide(inp), 5)
}

test_stabilized_size_is_clamped_to_pool_limits if {
	cfg := object.union(_cfg, {"resize_up_stabilization_s": 10, "max_pool_size": 4})
	h := [{"size": 8, "time": 990}, {"size": 9, "time": 995}]
	_resizes_to(_decide(_hist(_in(cfg, 3, 300), 1000, h)), 4)
}

test_high_water_mark_below_current_size_shrinks if {
	# as Brooklyn's resizeNow: the mark caps even the current size
	inp := _with(_in(_cfg, 5, 75), {"entity": {"sensors": {"capacity_high_water_mark": 3}}})
	_resizes_to(_decide(inp), 3)
}

test_high_water_mark_wins_over_min_pool_size if {
	cfg := object.union(_cfg, {"min_pool_size": 3})
	inp := _with(_in(cfg, 2, 75), {"entity": {"sensors": {"capacity_high_water_mark": 2}}})
	_keeps(_decide(inp), 2)
}

test_high_water_mark_null_or_absent_is_no_cap if {
	_size(_cfg, 2, 500) == 10
	_resizes_to(_decide(_with(_in(_cfg, 2, 500), {"entity": {"sensors": {"capacity_high_water_mark": null}}})), 10)
	_resizes_to(_decide(_with(_in(_cfg, 2, 500), {"entity": {"sensors": {"capacity_high_water_mark": "3"}}})), 10)
}

test_high_water_mark_fraction_is_floored if {
	_resizes_to(_decide(_with(_in(_cfg, 2, 500), {"entity": {"sensors": {"capacity_high_water_mark": 4.7}}})), 4)
}

# ---------------------------------------------------------------- max_size_reached

test_max_size_reached_not_reported_at_exactly_max if {
	d := _decide(_in(object.union(_cfg, {"max_pool_size": 4}), 2, 200))
	_resizes_to(d, 4)
	not "max_size_reached" in _names(d)
	d.remember == {}
}

test_max_size_reached_reported_on_the_unbounded_proposal if {
	# the step is capped (resize_up_max 1) but the ideal size 10 exceeds max 6
	d := _decide(_in(object.union(_cfg, {"max_pool_size": 6, "resize_up_max": 1}), 2, 500))
	_resizes_to(d, 3)
	"max_size_reached" in _names(d)
	d.remember == {bounds.remember_key: true}
}

test_max_size_reached_reset_when_back_within_max if {
	cfg := object.union(_cfg, {"max_pool_size": 6})
	remembered := {"knowledge": {"remembered": {bounds.remember_key: true}}}
	d := _decide(_with(_in(cfg, 6, 75), remembered))
	d.remember == {bounds.remember_key: false}
	d.symptoms == []

	# and once reset, reported again
	d2 := _decide(_with(_in(cfg, 6, 200), {"knowledge": {"remembered": d.remember}}))
	"max_size_reached" in _names(d2)
	d2.remember == {bounds.remember_key: true}
}

test_max_size_reached_not_reset_when_not_reported if {
	d := _decide(_in(object.union(_cfg, {"max_pool_size": 6}), 6, 75))
	d.remember == {}
}

test_max_size_reached_state_kept_while_metric_unknown if {
	remembered := {"knowledge": {"remembered": {bounds.remember_key: true}}}
	d := _decide(_with(_in(object.union(_cfg, {"max_pool_size": 6}), 6, null), remembered))
	_nothing_done(d, "metric_unknown")
}

# ---------------------------------------------------------------- missing and invalid input

test_missing_config_does_nothing if {
	inp := json.remove(_in(_cfg, 3, 500), ["entity/config/bounds_scaling"])
	d := _decide(inp)
	_nothing_done(d, "bounds_config_missing")
	d.symptoms[0].detail == {"missing": "bounds_scaling"}
	d.symptoms[0].severity == "warning"
}

test_config_not_an_object_does_nothing if {
	_nothing_done(_decide(_in("load", 3, 500)), "bounds_config_missing")
	_nothing_done(_decide(_with(_in(_cfg, 3, 500), {"entity": {"config": [1]}})), "bounds_config_missing")
}

test_missing_metric_config_does_nothing if {
	d := _decide(_in({"lower_bound": 50, "upper_bound": 100}, 3, 500))
	_nothing_done(d, "bounds_config_missing")
	d.symptoms[0].detail == {"missing": "bounds_scaling.metric"}
	_nothing_done(_decide(_in(object.union(_cfg, {"metric": null}), 3, 500)), "bounds_config_missing")
}

_invalid(cfg, problem) if {
	d := _decide(_in(cfg, 3, 500))
	_nothing_done(d, "bounds_config_invalid")
	problem in d.symptoms[0].detail.problems
	contains(d.reason, problem)
}

test_invalid_config_does_nothing if {
	_invalid(object.union(_cfg, {"metric": ""}), "metric must be a non-empty string")
	_invalid(object.union(_cfg, {"metric": 5}), "metric must be a non-empty string")
	_invalid(object.union(_cfg, {"lower_bound": "50"}), "lower_bound must be a number")
	_invalid(object.union(_cfg, {"upper_bound": true}), "upper_bound must be a number")
	_invalid(object.union(_cfg, {"min_pool_size": -1}), "min_pool_size must be an integer between 0 and 2147483647")
	_invalid(object.union(_cfg, {"min_pool_size": 1.5}), "min_pool_size must be an integer between 0 and 2147483647")
	_invalid(object.union(_cfg, {"max_pool_size": 1e12}), "max_pool_size must be an integer between 0 and 2147483647")
	_invalid(object.union(_cfg, {"resize_up_increment": 0}), "resize_up_increment must be an integer between 1 and 2147483647")
	_invalid(object.union(_cfg, {"resize_up_max": 0}), "resize_up_max must be an integer between 1 and 2147483647")
	_invalid(object.union(_cfg, {"resize_down_increment": "2"}), "resize_down_increment must be an integer between 1 and 2147483647")
	_invalid(object.union(_cfg, {"resize_down_max": [3]}), "resize_down_max must be an integer between 1 and 2147483647")
	_invalid(object.union(_cfg, {"resize_up_stabilization_s": -1}), "resize_up_stabilization_s must be a number of seconds >= 0")
	_invalid(object.union(_cfg, {"resize_down_stabilization_s": "1m"}), "resize_down_stabilization_s must be a number of seconds >= 0")
	_invalid(object.union(_cfg, {"min_pool_size": 5, "max_pool_size": 4}), "min_pool_size must not be greater than max_pool_size")
	_invalid(object.union(_cfg, {"upper_bonud": 100}), "unknown key upper_bonud")
}

test_invalid_config_lists_every_problem_sorted if {
	cfg := object.union(_cfg, {"min_pool_size": "x", "zzz": 1, "resize_up_max": 0})
	d := _decide(_in(cfg, 3, 500))
	d.symptoms[0].detail.problems == [
		"min_pool_size must be an integer between 0 and 2147483647",
		"resize_up_max must be an integer between 1 and 2147483647",
		"unknown key zzz",
	]
}

test_null_config_values_take_defaults if {
	cfg := object.union(_cfg, {
		"lower_bound": null,
		"min_pool_size": null,
		"max_pool_size": null,
		"resize_up_increment": null,
		"resize_up_max": null,
		"resize_down_increment": null,
		"resize_down_max": null,
		"resize_up_stabilization_s": null,
		"resize_down_stabilization_s": null,
	})
	_size(cfg, 5, 200) == 10
	_size(cfg, 5, 1) == 5
}

test_defaults if {
	bounds.min_pool_size == 1 with input as _in(_cfg, 1, 1)
	bounds.max_pool_size == bounds.int_max with input as _in(_cfg, 1, 1)
	bounds.resize_up_increment == 1 with input as _in(_cfg, 1, 1)
	bounds.resize_down_increment == 1 with input as _in(_cfg, 1, 1)
	bounds.resize_up_max == bounds.int_max with input as _in(_cfg, 1, 1)
	bounds.resize_down_max == bounds.int_max with input as _in(_cfg, 1, 1)
	bounds.resize_up_stabilization_s == 0 with input as _in(_cfg, 1, 1)
	bounds.resize_down_stabilization_s == 0 with input as _in(_cfg, 1, 1)
}

test_replicas_unknown_does_nothing if {
	_nothing_done(_decide(_in(_cfg, null, 500)), "replicas_unknown")
	_nothing_done(_decide(_in(_cfg, -1, 500)), "replicas_unknown")
	_nothing_done(_decide(_in(_cfg, 2.5, 500)), "replicas_unknown")
	_nothing_done(_decide(_in(_cfg, "3", 500)), "replicas_unknown")
	d := _decide(json.remove(_in(_cfg, 3, 500), ["entity/sensors/replicas"]))
	_nothing_done(d, "replicas_unknown")
	d.symptoms[0].detail == {"sensor": "replicas", "value": null}
	_nothing_done(_decide(_with(_in(_cfg, 3, 500), {"entity": {"sensors": [3]}})), "replicas_unknown")
}

test_metric_unknown_does_nothing if {
	d := _decide(_in(_cfg, 3, null))
	_nothing_done(d, "metric_unknown")
	d.symptoms[0] == {"name": "metric_unknown", "severity": "info", "detail": {"metric": "load", "value": null}}
	_nothing_done(_decide(_in(_cfg, 3, "high")), "metric_unknown")
	_nothing_done(_decide(json.remove(_in(_cfg, 3, 500), ["entity/sensors/load"])), "metric_unknown")
}

test_time_unknown_does_nothing if {
	_nothing_done(_decide(json.remove(_in(_cfg, 3, 500), ["now"])), "time_unknown")
	_nothing_done(_decide(_with(_in(_cfg, 3, 500), {"now": "soon"})), "time_unknown")
}

test_empty_input_does_nothing if {
	_nothing_done(_decide({}), "bounds_config_missing")
	_nothing_done(_decide({"entity": "x", "knowledge": 3}), "bounds_config_missing")
}

test_decision_has_standard_fields if {
	d := _decide(_in(_cfg, 3, 75))
	_standard_fields(d)
	object.keys(d) == {"symptoms", "actions", "escalate", "remember", "desired_size", "recommendation", "reason"}
}

test_reason_explains_the_resize if {
	d := _decide(_in(_cfg, 5, 200))
	d.reason == "load=200 per member at 5 replicas is above upper_bound 100 (ideal size 10): recommendation 10, desired size 10; resize from 5 to 10 replicas"
	d.actions[0].reason == d.reason
}

test_status if {
	bounds.status == "ok" with input as _in(_cfg, 3, 75)
	bounds.status == "config_missing" with input as {}
	bounds.status == "config_invalid" with input as _in(object.union(_cfg, {"min_pool_size": -1}), 3, 75)
	bounds.status == "replicas_unknown" with input as _in(_cfg, null, 75)
	bounds.status == "metric_unknown" with input as _in(_cfg, 3, null)
}
