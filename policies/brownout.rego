# autonomic.brownout: two levers, servers and the brownout dimmer, chosen to maximise utility.
#
# Bound to a web service with SWIM's levers (the sim-web-service entity, or
# any entity with the same sensors and effectors). Each round it predicts,
# with a processor-sharing queueing model, what each configuration would earn
# under the service's utility function (config.utility, SWIM's shape:
# revenue per request with and without optional content, a penalty when the
# mean response time misses the goal, a cost per server-second), and moves
# towards the best one:
#
#   dimmer  - the fast lever (instant): the highest level the servers that are
#             active now can serve at the load expected until the next round
#             within the planning limits (utilization, response-time headroom);
#   servers - the slow lever (servers boot for boot_delay_s): the count that
#             maximises predicted utility at the load expected when a server
#             started now would be ready (the trend over the boot delay).
#             Up at once to the best count; down one server at a time, only
#             with no server booting, no scale-up for scale_down_delay_s, and
#             when the best count is still lower at the highest rate of the
#             last scale_down_delay_s plus scale_down_margin (hysteresis
#             against oscillation, like the HPA's stabilization window).
#
# Feedback beside the model: a measured mean response time above the goal
# lowers the dimmer one level below the current one at least, and asks for
# one more server (unless one is booting or the pool is at max_servers).
#
# The model: a request with optional content needs service_time_s of CPU, one
# without basic_service_time_s (default: the means in the entity's config);
# with dimmer d the mean demand is S(d) = d * s_opt + (1 - d) * s_basic; with
# rate a over n servers (round-robin), each server is an M/G/1-PS queue with
# utilization rho = a * S(d) / n and mean response time S(d) / (1 - rho).
# A configuration is feasible when rho <= max_utilization and the response
# time is within rt_headroom * goal. Utility per second of a configuration:
#   feasible:   a * (d * revenue_optional + (1 - d) * revenue_basic) - cost * n
#   infeasible: min(0, a * revenue_optional - penalty_multiplier * kappa * revenue_optional) - cost * n
# (kappa: utility.max_throughput_rps, default max_servers / s_opt). When no
# count is feasible the policy asks for max_servers.
#
# Settings (config.brownout, all optional): max_utilization (0.8),
# rt_headroom (0.5), dimmer_levels (11: 0, 0.1, ..., 1), min_dimmer (0),
# scale_down_delay_s (300), scale_down_margin (0.15), horizon_s (boot_delay_s
# plus 60), service_time_s, basic_service_time_s.
#
# Pure and deterministic: time comes only from input.now, the load trend from
# what earlier rounds remembered; every value read from the input is
# type-checked first, so no input can raise a runtime error on OPA or regorus.
# Reference: docs/simulation.md.
package autonomic.brownout

import rego.v1

# ---------------------------------------------------------------------------
# Input, normalised
# ---------------------------------------------------------------------------

_num(x, d) := x if {
	is_number(x)
} else := d

_obj(x) := x if {
	is_object(x)
} else := {}

_arr(x) := x if {
	is_array(x)
} else := []

_in := x if {
	x := input
	is_object(x)
} else := {}

_entity := _obj(object.get(_in, "entity", {}))

_config := _obj(object.get(_entity, "config", {}))

_sensors := _obj(object.get(_entity, "sensors", {}))

_utility := _obj(object.get(_config, "utility", {}))

_settings := _obj(object.get(_config, "brownout", {}))

_knowledge := _obj(object.get(_in, "knowledge", {}))

_remembered := _obj(object.get(_obj(object.get(_knowledge, "remembered", {})), "autonomic.brownout", {}))

_scale_events := _arr(object.get(_obj(object.get(_knowledge, "history", {})), "scale_events", []))

_sensor(name) := v if {
	v := object.get(_sensors, name, null)
	is_number(v)
}

_nonneg(x) if {
	is_number(x)
	x >= 0
}

_pos(x) if {
	is_number(x)
	x > 0
}

_setting(name, d) := v if {
	v := object.get(_settings, name, null)
	_nonneg(v)
} else := d

# ---------------------------------------------------------------------------
# Model parameters
# ---------------------------------------------------------------------------

goal := v if {
	v := object.get(_utility, "rt_goal_s", null)
	_pos(v)
} else := 0.75

revenue_optional := _num(object.get(_utility, "revenue_optional", null), 1.5)

revenue_basic := _num(object.get(_utility, "revenue_basic", null), 1)

cost := _num(object.get(_utility, "cost_per_server_s", null), 0)

penalty_multiplier := _num(object.get(_utility, "penalty_multiplier", null), 1)

_whole(x) if {
	_nonneg(x)
	floor(x) == x
}

max_servers := v if {
	v := object.get(_config, "max_servers", null)
	_whole(v)
	v >= 1
} else := 1

min_servers := v if {
	v := object.get(_config, "min_servers", null)
	_whole(v)
	v <= max_servers
} else := 1

_config_mean(key, d) := v if {
	v := object.get(_obj(object.get(_config, key, {})), "mean", null)
	_pos(v)
} else := d

s_opt := v if {
	v := object.get(_settings, "service_time_s", null)
	_pos(v)
} else := _config_mean("service_time", 0.03)

s_basic := v if {
	v := object.get(_settings, "basic_service_time_s", null)
	_pos(v)
} else := _config_mean("basic_service_time", 0.001)

kappa := v if {
	v := object.get(_utility, "max_throughput_rps", null)
	_pos(v)
} else := max_servers / s_opt

boot_delay := _setting_from(_config, "boot_delay_s", 0)

_setting_from(o, name, d) := v if {
	v := object.get(o, name, null)
	_nonneg(v)
} else := d

max_utilization := v if {
	v := _setting("max_utilization", 0.8)
	v > 0
	v < 1
} else := 0.8

rt_headroom := v if {
	v := _setting("rt_headroom", 0.5)
	v > 0
} else := 0.5

_levels_count := n if {
	n := _setting("dimmer_levels", 11)
	n >= 2
	n <= 101
	floor(n) == n
} else := 11

min_dimmer := v if {
	v := _setting("min_dimmer", 0)
	v <= 1
} else := 0

# The dimmer levels, ascending, from min_dimmer to 1.
levels := [d |
	some i in numbers.range(0, _levels_count - 1)
	d := i / (_levels_count - 1)
	d >= min_dimmer - 1e-9
]

horizon := _setting("horizon_s", boot_delay + 60)

scale_down_delay := _setting("scale_down_delay_s", 300)

scale_down_margin := _setting("scale_down_margin", 0.15)

# ---------------------------------------------------------------------------
# Observations
# ---------------------------------------------------------------------------

now := _num(object.get(_in, "now", null), null)

rate := _sensor("arrival_rate")

servers := _sensor("servers")

active := _sensor("active_servers")

booting := _num(object.get(_sensors, "booting_servers", null), 0)

dimmer := _sensor("dimmer")

response_time := _sensor("response_time")

_ready if {
	is_number(now)
	_nonneg(rate)
	_whole(servers)
	_whole(active)
	_nonneg(dimmer)
}

# Load trend (requests/s per second) since the previous round, from what it remembered.
_prev_rate := _num(object.get(_remembered, "rate", null), null)

_prev_time := _num(object.get(_remembered, "time", null), null)

slope := (rate - _prev_rate) / (now - _prev_time) if {
	is_number(_prev_rate)
	is_number(_prev_time)
	now - _prev_time >= 1
} else := 0

# Seconds since the previous round (the dimmer plans until the next one, expected as far away).
_gap := now - _prev_time if {
	is_number(_prev_time)
	now - _prev_time >= 1
} else := 60

# Recent rates ([time, rate], oldest first) over the scale-down stabilization window, this round's included.
recent_rates := array.concat(
	[p |
		some p in _arr(object.get(_remembered, "recent", []))
		is_array(p)
		count(p) == 2
		is_number(p[0])
		is_number(p[1])
		p[0] > now - scale_down_delay
		p[0] < now
	],
	[[now, rate]],
)

_peak_recent := max([p[1] | some p in recent_rates])

# Load planned for: now, or the trend's projection when load is rising.
rate_for_servers := rate + (max([0, slope]) * horizon)

rate_for_dimmer := rate + (max([0, slope]) * _gap)

# ---------------------------------------------------------------------------
# The queueing model and the utility of a configuration
# ---------------------------------------------------------------------------

demand(d) := (d * s_opt) + ((1 - d) * s_basic)

feasible(a, n, d) if {
	n > 0
	rho := (a * demand(d)) / n
	rho <= max_utilization
	demand(d) / (1 - rho) <= rt_headroom * goal
}

# The highest dimmer level n servers can serve at rate a (undefined when none).
best_dimmer(a, n) := max(ds) if {
	ds := [d | some d in levels; feasible(a, n, d)]
	count(ds) > 0
}

utility_per_s(a, n) := (a * ((d * revenue_optional) + ((1 - d) * revenue_basic))) - (cost * n) if {
	d := best_dimmer(a, n)
} else := min([0, (a * revenue_optional) - ((penalty_multiplier * kappa) * revenue_optional)]) - (cost * n)

_counts := [n | some n in numbers.range(max([1, min_servers]), max_servers)]

_utilities(a) := {n: utility_per_s(a, n) | some n in _counts}

# The server count with the highest utility at rate a (ties: the larger); max_servers when none is feasible.
best_servers(a) := max_servers if {
	count([n | some n in _counts; best_dimmer(a, n)]) == 0
} else := n if {
	us := _utilities(a)
	top := max([u | some u in us])

	# A tolerance, so that exact ties go to the larger count on every engine (OPA's decimals and
	# regorus' floats round differently in the last digit).
	n := max([k | some k, u in us; u >= top - (1e-9 * max([1, abs(top)]))])
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

goal_missed if response_time > goal

_scaled_up_recently if {
	some e in _scale_events
	is_number(object.get(e, "change", null))
	e.change > 0
	is_number(object.get(e, "time", null))
	e.time > now - scale_down_delay
}

_wanted := n if {
	goal_missed
	booting == 0
	n := max([best_servers(rate_for_servers), servers + 1])
} else := best_servers(rate_for_servers)

target_servers := min([max_servers, _wanted]) if {
	_ready
	_wanted > servers
} else := servers - 1 if {
	_ready
	not goal_missed
	booting == 0
	not _scaled_up_recently
	servers > min_servers
	best_servers(max([rate_for_servers, _peak_recent]) * (1 + scale_down_margin)) < servers
} else := servers if {
	_ready
}

# Servers that will take requests after this round's change (a removed server drains at once).
_active_after := active - (servers - target_servers) if {
	target_servers < servers
} else := active

_one_level_down := max([d | some d in levels; d < dimmer - 1e-9]) if {
	count([d | some d in levels; d < dimmer - 1e-9]) > 0
} else := levels[0]

_model_dimmer := d if {
	d := best_dimmer(rate_for_dimmer, _active_after)
} else := levels[0]

target_dimmer := min([_model_dimmer, _one_level_down]) if {
	_ready
	_active_after > 0
	goal_missed
} else := _model_dimmer if {
	_ready
	_active_after > 0
} else := dimmer if {
	_ready
}

# x rounded to 1/k, for messages and the journaled plan: OPA computes in decimals and regorus in
# binary floats, which differ in the last digits (and sprintf's %f differs for integral numbers).
_r(x, k) := round(x * k) / k

_servers_action := [{
	"target": "self",
	"effector": "set_servers",
	"args": {"count": target_servers},
	"reason": sprintf("%v -> %v servers: best utility at %v req/s expected in %v s (now %v req/s)", [servers, target_servers, _r(rate_for_servers, 10), _r(horizon, 1), _r(rate, 10)]),
}] if {
	target_servers != servers
} else := []

_dimmer_action := [{
	"target": "self",
	"effector": "set_dimmer",
	"args": {"value": target_dimmer},
	"reason": sprintf("dimmer %v -> %v: %v active servers at %v req/s%s", [_r(dimmer, 100), _r(target_dimmer, 100), _active_after, _r(rate_for_dimmer, 10), _missed_note]),
}] if {
	abs(target_dimmer - dimmer) > 1e-9
} else := []

_missed_note := sprintf(", response time %v s over the %v s goal", [_r(response_time, 1000), goal]) if {
	goal_missed
} else := ""

# Capacity comes first when growing, the dimmer first when shrinking.
_actions := array.concat(_servers_action, _dimmer_action) if {
	target_servers >= servers
} else := array.concat(_dimmer_action, _servers_action)

_symptoms := array.concat(
	[{"name": "response_time_goal_missed", "severity": "warning", "detail": {"response_time": response_time, "goal": goal}} | goal_missed],
	[{"name": "capacity_exhausted", "severity": "warning", "detail": {"rate": rate_for_servers, "max_servers": max_servers}} |
		_ready
		count([n | some n in _counts; best_dimmer(rate_for_servers, n)]) == 0
	],
)

_no_data := [{"name": "no_data", "severity": "info", "detail": {"needs": ["arrival_rate", "servers", "active_servers", "dimmer"]}}]

decision := {
	"symptoms": _symptoms,
	"actions": _actions,
	"remember": {"autonomic.brownout": {"rate": rate, "time": now, "recent": recent_rates}},
	"plan": {
		"rate": rate,
		"slope": _r(slope, 1000000),
		"rate_for_servers": _r(rate_for_servers, 1000000),
		"rate_for_dimmer": _r(rate_for_dimmer, 1000000),
		"servers": target_servers,
		"dimmer": target_dimmer,
		"utility_per_s": {sprintf("%d", [n]): _r(u, 1000000) | some n, u in _utilities(rate_for_servers)},
	},
} if {
	_ready
} else := {"symptoms": _no_data, "actions": [], "remember": {}}
