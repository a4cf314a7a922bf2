# Tests for autonomic.brownout.
#
# The base service is the example's: 1 to 3 servers, 60 s boot, 30 ms of CPU
# with optional content and 1 ms without, a 0.75 s goal, revenue 1.5 / 1.0,
# cost 1 per server-second. With the default planning limits (utilization
# <= 0.8, response time <= 0.375 s) a configuration is feasible when
# rate * S(d) <= 0.8 * n, S(d) = 0.001 + 0.029 d; the expected numbers below
# are worked out from that by hand.
package autonomic.brownout_test

import data.autonomic.brownout
import rego.v1

_now := 1000

_config := {
	"initial_servers": 1,
	"min_servers": 1,
	"max_servers": 3,
	"boot_delay_s": 60,
	"service_time": {"kind": "lognormal", "mean": 0.03, "cv": 1},
	"basic_service_time": {"kind": "lognormal", "mean": 0.001, "cv": 1},
	"utility": {
		"rt_goal_s": 0.75,
		"revenue_optional": 1.5,
		"revenue_basic": 1,
		"cost_per_server_s": 1,
		"penalty_multiplier": 1,
	},
	"brownout": {},
}

_sensors(rate, servers, active, dimmer, rt) := {
	"arrival_rate": rate,
	"servers": servers,
	"active_servers": active,
	"booting_servers": servers - active,
	"dimmer": dimmer,
	"response_time": rt,
}

_input(sensors, config, knowledge) := {
	"now": _now,
	"entity": {"id": "web", "config": object.union(_config, config), "sensors": sensors},
	"children": [],
	"knowledge": object.union({"actions": [], "remembered": {}, "history": {}, "cooldowns": {}}, knowledge),
	"events": [],
}

_decide(sensors) := d if {
	d := brownout.decision with input as _input(sensors, {}, {})
}

_actions(d) := [[a.effector, a.args] | some a in d.actions]

_symptoms(d) := {s.name | some s in d.symptoms}

# ---------------------------------------------------------------------------

test_no_data_no_action if {
	d := brownout.decision with input as _input({"servers": 1}, {}, {})
	d.actions == []
	_symptoms(d) == {"no_data"}
}

test_garbage_input_is_no_data if {
	d := brownout.decision with input as {"now": "soon", "entity": {"sensors": {"arrival_rate": "many", "servers": true}}}
	d.actions == []
	_symptoms(d) == {"no_data"}
}

test_input_not_an_object if {
	d := brownout.decision with input as [1, 2]
	d.actions == []
}

test_light_load_keeps_one_server_at_full_dimmer if {
	d := _decide(_sensors(10, 1, 1, 1, 0.04))
	d.actions == []
	d.plan.servers == 1
	d.plan.dimmer == 1

	# 10 req/s at d = 1: 15 revenue, minus 1, 2, 3 for the servers
	d.plan.utility_per_s == {"1": 14, "2": 13, "3": 12}
}

test_rising_load_adds_servers_at_once_and_dims_the_active_one if {
	k := {"remembered": {"autonomic.brownout": {"rate": 40, "time": _now - 60}}}
	d := brownout.decision with input as _input(_sensors(50, 1, 1, 1, 0.1), {}, k)

	# slope 1/6 per s: 70 req/s planned over 120 s (boot 60 + 60), 60 until the next round
	d.plan.rate_for_servers == 70
	d.plan.rate_for_dimmer == 60

	# 70 req/s: 1 server d 0.3 -> 79.5, 2 servers d 0.7 -> 92.5, 3 servers d 1 -> 102
	d.plan.servers == 3
	_actions(d) == [["set_servers", {"count": 3}], ["set_dimmer", {"value": 0.4}]]
}

test_falling_load_is_not_projected if {
	k := {"remembered": {"autonomic.brownout": {"rate": 40, "time": _now - 60}}}
	d := brownout.decision with input as _input(_sensors(20, 1, 1, 1, 0.05), {}, k)
	d.plan.rate_for_servers == 20
	d.actions == []
}

test_cost_decides_between_a_server_and_the_dimmer if {
	# 30 req/s: 1 server at d 0.8 earns 42 - c, 2 servers at d 1 earn 45 - 2c
	cheap := _decide(_sensors(30, 1, 1, 1, 0.1))
	_actions(cheap) == [["set_servers", {"count": 2}], ["set_dimmer", {"value": 0.8}]]

	dear := brownout.decision with input as _input(_sensors(30, 1, 1, 1, 0.1), {"utility": {"cost_per_server_s": 5}}, {})
	_actions(dear) == [["set_dimmer", {"value": 0.8}]]
}

test_goal_missed_adds_a_server_and_dims_one_level_despite_the_model if {
	d := _decide(_sensors(20, 1, 1, 1, 1.2))
	_actions(d) == [["set_servers", {"count": 2}], ["set_dimmer", {"value": 0.9}]]
	"response_time_goal_missed" in _symptoms(d)
}

test_goal_missed_at_max_servers_only_dims if {
	d := _decide(_sensors(20, 3, 3, 1, 2))
	_actions(d) == [["set_dimmer", {"value": 0.9}]]
}

test_goal_missed_while_booting_adds_nothing if {
	d := _decide(_sensors(20, 2, 1, 1, 2))
	_actions(d) == [["set_dimmer", {"value": 0.9}]]
}

test_capacity_exhausted_takes_every_server_and_the_lowest_dimmer if {
	d := _decide(_sensors(3000, 3, 3, 0.5, 5))
	_actions(d) == [["set_dimmer", {"value": 0}]]
	_symptoms(d) == {"capacity_exhausted", "response_time_goal_missed"}
}

test_capacity_exhausted_asks_for_max_servers if {
	d := _decide(_sensors(3000, 1, 1, 1, 0.1))
	_actions(d)[0] == ["set_servers", {"count": 3}]
}

test_low_load_removes_one_server_at_a_time if {
	d := _decide(_sensors(10, 3, 3, 1, 0.05))
	_actions(d) == [["set_servers", {"count": 2}]]
}

test_shrinking_sets_the_dimmer_first if {
	d := _decide(_sensors(10, 2, 2, 0.5, 0.05))
	_actions(d) == [["set_dimmer", {"value": 1}], ["set_servers", {"count": 1}]]
}

test_no_removal_while_a_server_boots if {
	d := _decide(_sensors(10, 3, 2, 1, 0.05))
	d.actions == []
}

test_no_removal_soon_after_a_scale_up if {
	k := {"history": {"scale_events": [{"change": 1, "time": _now - 100}]}}
	d := brownout.decision with input as _input(_sensors(10, 3, 3, 1, 0.05), {}, k)
	d.actions == []

	old := {"history": {"scale_events": [{"change": 1, "time": _now - 400}, {"change": -1, "time": _now - 50}]}}
	later := brownout.decision with input as _input(_sensors(10, 3, 3, 1, 0.05), {}, old)
	_actions(later) == [["set_servers", {"count": 2}]]
}

test_no_removal_below_a_recent_peak if {
	# 60 req/s two minutes ago, plus the 15 % margin: 69 req/s needs 3 servers
	k := {"remembered": {"autonomic.brownout": {"recent": [[_now - 120, 60], [_now - 60, 12]], "rate": 12, "time": _now - 60}}}
	d := brownout.decision with input as _input(_sensors(10, 3, 3, 1, 0.05), {}, k)
	d.actions == []

	# the peak is older than the stabilization window (300 s)
	k2 := {"remembered": {"autonomic.brownout": {"recent": [[_now - 400, 60], [_now - 60, 12]], "rate": 12, "time": _now - 60}}}
	d2 := brownout.decision with input as _input(_sensors(10, 3, 3, 1, 0.05), {}, k2)
	_actions(d2) == [["set_servers", {"count": 2}]]
}

test_never_below_min_servers if {
	d := brownout.decision with input as _input(_sensors(1, 2, 2, 1, 0.03), {"min_servers": 2}, {})
	d.actions == []
}

test_remembers_rate_time_and_the_recent_window if {
	k := {"remembered": {"autonomic.brownout": {"recent": [[_now - 400, 60], [_now - 60, 12], "junk"], "rate": 12, "time": _now - 60}}}
	d := brownout.decision with input as _input(_sensors(10, 1, 1, 1, 0.05), {}, k)
	d.remember == {"autonomic.brownout": {"rate": 10, "time": _now, "recent": [[_now - 60, 12], [_now, 10]]}}
}

test_dimmer_levels_and_min_dimmer_settings if {
	five := brownout.decision with input as _input(_sensors(30, 1, 1, 1, 0.1), {"utility": {"cost_per_server_s": 5}, "brownout": {"dimmer_levels": 5}}, {})
	_actions(five) == [["set_dimmer", {"value": 0.75}]]

	floor_half := brownout.decision with input as _input(_sensors(3000, 3, 3, 1, 5), {"brownout": {"min_dimmer": 0.5}}, {})
	_actions(floor_half) == [["set_dimmer", {"value": 0.5}]]
}

test_planning_limits_are_settings if {
	# 20 req/s on one server at d = 1 is 60 % busy: over max_utilization 0.5, so one server
	# needs d 0.8 (27 per s) and two servers at d 1 earn more (28 per s)
	d := brownout.decision with input as _input(_sensors(20, 1, 1, 1, 0.05), {"brownout": {"max_utilization": 0.5}}, {})
	d.plan.servers == 2

	# 24 req/s on one server: 72 % busy, 107 ms; with rt_headroom 0.08 (60 ms) one server
	# needs d 0.8 (32.6 per s) and two at d 1 earn 34 per s
	plain := _decide(_sensors(24, 1, 1, 1, 0.05))
	plain.plan.servers == 1
	h := brownout.decision with input as _input(_sensors(24, 1, 1, 1, 0.05), {"brownout": {"rt_headroom": 0.08}}, {})
	h.plan.servers == 2
}

test_exact_ties_go_to_more_servers if {
	# 20 req/s, rt_headroom 0.05: 2 servers at d 0.9 and 3 at d 1 both earn exactly 27 per s
	d := brownout.decision with input as _input(_sensors(20, 1, 1, 1, 0.05), {"brownout": {"rt_headroom": 0.05}}, {})
	d.plan.servers == 3
}

test_bad_settings_fall_back_to_defaults if {
	cfg := {"brownout": {"max_utilization": 7, "dimmer_levels": 2.5, "rt_headroom": "x"}, "max_servers": "three"}
	d := brownout.decision with input as _input(_sensors(10, 1, 1, 1, 0.04), cfg, {})
	d.actions == []
	d.plan.utility_per_s == {"1": 14}
}

test_penalty_utility_when_infeasible if {
	# kappa = 3 / 0.03 = 100 req/s; at 3000 req/s min(0, 4500 - 150) = 0, so only the cost counts
	d := _decide(_sensors(3000, 3, 3, 0.5, 5))
	d.plan.utility_per_s == {"1": -1, "2": -2, "3": -3}
}
