# example.reactive: SWIM's ReactiveAdaptationManager, as Rego, to compare autonomic.brownout against.
#
# The rules of the reactive manager that ships with SWIM (Moreno et al.,
# SEAMS 2018), one action per round:
#
#   response time above the goal:
#     add a server if none is booting and the pool is not full,
#     else lower the dimmer one step;
#   response time below the goal, and more than one server's worth of
#   spare capacity (active servers minus their summed utilization):
#     raise the dimmer one step if it is not at 1,
#     else remove a server if none is booting and more than min_servers run.
#
# As in SWIM, a lone server never counts as spare capacity, so with one
# server the dimmer does not go back up. Settings: config.extra.reactive.step
# (the dimmer step, 0.1 by default). The goal is config.utility.rt_goal_s.
package example.reactive

import rego.v1

_num(x, d) := x if {
	is_number(x)
} else := d

_config := object.get(input.entity, "config", {})

_sensors := object.get(input.entity, "sensors", {})

goal := _num(object.get(object.get(_config, "utility", {}), "rt_goal_s", null), 0.75)

step := _num(object.get(object.get(object.get(_config, "extra", {}), "reactive", {}), "step", null), 0.1)

max_servers := _num(object.get(_config, "max_servers", null), 1)

min_servers := _num(object.get(_config, "min_servers", null), 1)

rt := object.get(_sensors, "response_time", null)

servers := object.get(_sensors, "servers", null)

active := object.get(_sensors, "active_servers", null)

booting := _num(object.get(_sensors, "booting_servers", null), 0)

dimmer := object.get(_sensors, "dimmer", null)

utilization := _num(object.get(_sensors, "utilization", null), 0)

_ready if {
	is_number(rt)
	is_number(servers)
	is_number(active)
	is_number(dimmer)
}

spare := active - (utilization * active)

_per_unit := max([1, round(1 / step)])

# Clamped to [0, 1] and rounded to the step grid, so repeated steps land on 0 and 1 exactly.
_dimmer_at(x) := round(min([1, max([0, x])]) * _per_unit) / _per_unit

_act(effector, args, reason) := [{"target": "self", "effector": effector, "args": args, "reason": reason}]

actions := _act("add_server", {}, sprintf("response time %v s over the goal", [rt])) if {
	_ready
	rt > goal
	booting == 0
	servers < max_servers
} else := _act("set_dimmer", {"value": _dimmer_at(dimmer - step)}, sprintf("response time %v s over the goal, no server to add", [rt])) if {
	_ready
	rt > goal
	dimmer > 0
} else := _act("set_dimmer", {"value": _dimmer_at(dimmer + step)}, sprintf("%v servers of spare capacity", [spare])) if {
	_ready
	rt < goal
	spare > 1
	dimmer < 1
} else := _act("remove_server", {}, sprintf("%v servers of spare capacity at full dimmer", [spare])) if {
	_ready
	rt < goal
	spare > 1
	booting == 0
	servers > min_servers
} else := []

decision := {"actions": actions}
