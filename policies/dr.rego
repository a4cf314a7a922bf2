# Disaster recovery across sites (autonomic.dr).
#
# Bound to a *fabric* entity whose children are sites, one of them primary
# (the fabric's sensor `primary_site`). Each round it decides at most ONE plan,
# in this priority order (see docs/policies/dr.md):
#
#   busy        a DR action (fence, promote, repoint, rejoin_as_standby) is
#               pending or running: plan nothing new
#   split_brain two unfenced sites report role primary: fence the one(s) that
#               are not the primary
#   failover    the primary has been down (a quorum of its health signals
#               false) for grace_s and a standby is healthy:
#               fence(old) -> [data-loss check] -> promote(standby) -> repoint
#   failback    (only when configured) switch back to the home site once it
#               is a healthy standby again, with the same checks
#   rejoin      a fenced site that is reachable again rejoins as a standby of
#               the current primary
#
# Never two primaries: a decision's actions run sequentially in list order and
# the framework skips the rest of a decision when one action fails. Every plan
# that promotes puts `fence(old primary)` FIRST when the old primary is not
# already fenced, so `promote` only ever runs after a successful fence. The only
# exception is the explicit, configured `continue_if_unfenceable` for an old
# primary that cannot be reached at all.
#
# Pure and deterministic: time comes only from input.now.
package autonomic.dr

import rego.v1

# ---------------------------------------------------------------------------
# Input, normalised (nothing below can raise a type error)
# ---------------------------------------------------------------------------

num(x, d) := x if {
	is_number(x)
} else := d

obj(x) := x if {
	is_object(x)
} else := {}

arr(x) := x if {
	is_array(x)
} else := []

str(x, d) := x if {
	is_string(x)
} else := d

_in := x if {
	x := input
	is_object(x)
} else := {}

now := num(object.get(_in, "now", 0), 0)

entity := obj(object.get(_in, "entity", {}))

self_id := str(object.get(entity, "id", ""), "")

fabric_effectors := {e | some e in arr(object.get(entity, "effectors", [])); is_string(e)}

fabric_sensors := obj(object.get(entity, "sensors", {}))

sites := [c |
	some c in arr(object.get(_in, "children", []))
	is_object(c)
	is_string(object.get(c, "id", null))
]

site_ids := {s.id | some s in sites}

site_by_id := {s.id: s | some s in sites}

knowledge := obj(object.get(_in, "knowledge", {}))

k_actions := [a | some a in arr(object.get(knowledge, "actions", [])); is_object(a)]

remembered := obj(object.get(knowledge, "remembered", {}))

in_flight := {"pending", "running"}

dr_effectors := {"fence", "promote", "repoint", "rejoin_as_standby"}

# ---------------------------------------------------------------------------
# Config (input.entity.config.dr), with defaults
# ---------------------------------------------------------------------------

conf := obj(object.get(obj(object.get(entity, "config", {})), "dr", {}))

cfg_num(k, d) := v if {
	v := conf[k]
	is_number(v)
	v >= 0
} else := d

cfg_bool(k, d) := v if {
	v := conf[k]
	is_boolean(v)
} else := d

grace_s := cfg_num("grace_s", 30)

quorum := v if {
	v := conf.quorum
	is_number(v)
	v >= 0
	v <= 1
} else := 0.5

rpo_s := cfg_num("rpo_s", 0)

rpo_bytes := v if {
	v := conf.rpo_bytes
	is_number(v)
	v >= 0
} else := null

force := cfg_bool("force", false)

continue_if_unfenceable := cfg_bool("continue_if_unfenceable", false)

failback := cfg_bool("failback", false)

max_attempts := cfg_num("max_attempts", 3)

preferred_primary := v if {
	v := conf.preferred_primary
	is_string(v)
} else := null

# ---------------------------------------------------------------------------
# Site model
# ---------------------------------------------------------------------------

sensors_of(s) := obj(object.get(s, "sensors", {}))

role(s) := str(object.get(sensors_of(s), "role", null), "")

reachable(s) if sensors_of(s).reachable == true

is_fenced(s) if sensors_of(s).fenced == true

is_fenced(s) if role(s) == "fenced"

signals(s) := obj(object.get(sensors_of(s), "health_signals", {}))

n_signals(s) := count(signals(s))

# a signal that is not true (false, or null: unknown/stale) counts as failing
n_failing(s) := count([k | some k, v in signals(s); v != true])

health_known(s) if n_signals(s) > 0

# down: strictly more than `quorum` of the signals failing, or all failing
down(s) if {
	health_known(s)
	n_failing(s) > quorum * n_signals(s)
}

down(s) if {
	health_known(s)
	n_failing(s) == n_signals(s)
}

lag_s(s) := v if {
	v := sensors_of(s).replication_lag_s
	is_number(v)
} else := null

lag_bytes(s) := v if {
	v := sensors_of(s).replication_lag_bytes
	is_number(v)
} else := null

healthy_standby(s) if {
	role(s) == "standby"
	not is_fenced(s)
	reachable(s)
	health_known(s)
	not down(s)
}

# an unfenced primary that serves: what a takeover or a rejoin can rely on
healthy_primary(s) if {
	role(s) == "primary"
	not is_fenced(s)
	reachable(s)
	health_known(s)
	not down(s)
}

declares(s, eff) if {
	some e in arr(object.get(s, "effectors", []))
	e == eff
}

# data-loss bound for promoting site s
lag_within_rpo(s) if {
	is_number(lag_s(s))
	lag_s(s) <= rpo_s
	bytes_within_rpo(s)
}

bytes_within_rpo(_) if rpo_bytes == null

bytes_within_rpo(s) if {
	is_number(rpo_bytes)
	is_number(lag_bytes(s))
	lag_bytes(s) <= rpo_bytes
}

rpo_ok(s) if lag_within_rpo(s)

rpo_ok(_) if force

data_loss(s) := {"seconds": lag_s(s), "bytes": lag_bytes(s)}

fence_state(s) := "fenced" if {
	is_fenced(s)
} else := "fence" if {
	reachable(s)
} else := "unreachable"

# ---------------------------------------------------------------------------
# Primary
# ---------------------------------------------------------------------------

primary_site_sensor := v if {
	v := fabric_sensors.primary_site
	is_string(v)
} else := null

claimants := sort([s.id | some s in sites; role(s) == "primary"; not is_fenced(s)])

primary_id := primary_site_sensor if {
	primary_site_sensor in site_ids
} else := claimants[0] if {
	primary_site_sensor == null
	count(claimants) == 1
} else := null

primary := site_by_id[primary_id]

# ---------------------------------------------------------------------------
# Remembered timing: when each site went down / became a healthy standby
# ---------------------------------------------------------------------------

since_or_now(m, id) := t if {
	t := m[id]
	is_number(t)
	t <= now
} else := now

prev_down := obj(object.get(remembered, "autonomic.dr.down_since", {}))

down_since := {s.id: since_or_now(prev_down, s.id) | some s in sites; down(s)}

prev_healthy := obj(object.get(remembered, "autonomic.dr.healthy_since", {}))

healthy_since := {s.id: since_or_now(prev_healthy, s.id) | some s in sites; healthy_standby(s)}

primary_down if down_since[primary_id]

primary_down_since := down_since[primary_id]

primary_down_for := now - primary_down_since

primary_failed if primary_down_for >= grace_s

# ---------------------------------------------------------------------------
# Actions in flight, and the remembered plan
# ---------------------------------------------------------------------------

busy_actions := [{"target": a.target, "effector": a.effector, "status": a.status} |
	some a in k_actions
	a.effector in dr_effectors
	a.status in in_flight
]

dr_busy if count(busy_actions) > 0

plan_prev := obj(object.get(remembered, "autonomic.dr.plan", {}))

plan_in_progress if plan_prev.status == "in_progress"

plan_to := str(object.get(plan_prev, "to", null), "")

plan_planned_at := num(object.get(plan_prev, "planned_at", null), 0)

repoint_ok_finished := [num(object.get(a, "finished", null), now) |
	some a in k_actions
	a.effector == "repoint"
	a.args.site == plan_to
	a.status == "ok"
	is_number(a.requested)
	a.requested >= plan_planned_at
]

plan_completed_now if {
	plan_in_progress
	plan_to != ""
	primary_site_sensor == plan_to
}

plan_completed_now if {
	plan_in_progress
	plan_to != ""
	count(repoint_ok_finished) > 0
}

recovered_at := max(repoint_ok_finished) if {
	count(repoint_ok_finished) > 0
} else := now

measured_rto := recovered_at - num(object.get(plan_prev, "rto_from", null), plan_planned_at)

plan_completed := object.union(plan_prev, {
	"status": "completed",
	"recovered_at": recovered_at,
	"rto_s": measured_rto,
})

# the plan as it stands before this round's planning (completion applied)
plan_settled := plan_completed if {
	plan_completed_now
} else := plan_prev

# This outage was already handled by a completed failover whose repoint
# succeeded: wait for the fabric's primary_site to follow, never re-plan.
fo_done if {
	plan_settled.status == "completed"
	plan_settled.kind == "failover"
	plan_settled.from == primary_id
	plan_settled.rto_from == primary_down_since
}

rto_s := measured_rto if {
	plan_completed_now
} else := v if {
	plan_prev.status == "completed"
	v := plan_prev.rto_s
	is_number(v)
} else := null

# ---------------------------------------------------------------------------
# Split brain
# ---------------------------------------------------------------------------

split_brain if count(claimants) >= 2

healthy_claimants := [id | some id in claimants; healthy_primary(site_by_id[id])]

# keep the fabric's primary_site; if that one is itself down, keep the only
# healthy claimant; otherwise it is ambiguous (escalate, act on nothing)
sb_keep := primary_site_sensor if {
	primary_site_sensor in claimants
	not down(site_by_id[primary_site_sensor])
} else := healthy_claimants[0] if {
	count(healthy_claimants) == 1
} else := null

sb_targets := [id | some id in claimants; sb_keep != null; id != sb_keep]

sb_fence := [id |
	some id in sb_targets
	reachable(site_by_id[id])
	declares(site_by_id[id], "fence")
]

sb_blocked := [id | some id in sb_targets; not id in sb_fence]

sb_actions := [{
	"target": id,
	"effector": "fence",
	"args": {},
	"reason": sprintf("split brain: %s reports role primary besides %s; fencing it", [id, sb_keep]),
} |
	some id in sb_fence
]

# ---------------------------------------------------------------------------
# Failover
# ---------------------------------------------------------------------------

# Another site already holds role primary (promoted by an earlier attempt
# whose repoint did not finish): take over without a second promotion.
takeover_ids := [id | some id in healthy_claimants; id != primary_id]

takeover_id := takeover_ids[0] if {
	count(takeover_ids) > 0
} else := null

standby_keys := sort([[r1, l1, r2, l2, s.id] |
	some s in sites
	s.id != primary_id
	healthy_standby(s)
	r1 := rank(lag_s(s))
	l1 := num(lag_s(s), 0)
	r2 := rank(lag_bytes(s))
	l2 := num(lag_bytes(s), 0)
])

rank(x) := 0 if {
	is_number(x)
} else := 1

best_standby := standby_keys[0][4] if {
	count(standby_keys) > 0
} else := null

fo_target := takeover_id if {
	takeover_id != null
} else := best_standby

fo_promote if {
	takeover_id == null
	best_standby != null
}

fo_same_episode if {
	plan_in_progress
	plan_prev.kind == "failover"
	plan_prev.from == primary_id
	plan_prev.rto_from == primary_down_since
}

fo_attempt := num(object.get(plan_prev, "attempt", null), 0) + 1 if {
	fo_same_episode
} else := 1

fo_exhausted if {
	fo_same_episode
	num(object.get(plan_prev, "attempt", null), 0) >= max_attempts
}

fo_fence := fence_state(primary)

fo_missing := array.concat(
	array.concat(
		[{"target": primary_id, "effector": "fence"} | fo_fence == "fence"; not declares(primary, "fence")],
		[{"target": fo_target, "effector": "promote"} | fo_promote; not declares(site_by_id[fo_target], "promote")],
	),
	[{"target": self_id, "effector": "repoint"} | not "repoint" in fabric_effectors],
)

# ("not_failing" never reaches the decision: failover mode requires it)
fo_block := "not_failing" if {
	mode != "failover"
} else := "no_healthy_standby" if {
	fo_target == null
} else := "failover_failed" if {
	fo_exhausted
} else := "dr_effector_missing" if {
	count(fo_missing) > 0
} else := "fence_unreachable" if {
	fo_fence == "unreachable"
	not continue_if_unfenceable
} else := "rpo_violated" if {
	fo_promote
	not rpo_ok(site_by_id[fo_target])
} else := ""

# reached the fence step of the plan (and so know whether it can be fenced)
fo_reached_fence if fo_block in {"", "fence_unreachable", "rpo_violated"}

fo_actions := array.concat(
	array.concat(
		[{
			"target": primary_id,
			"effector": "fence",
			"args": {},
			"reason": sprintf("failover: primary %s down past grace; fence it before promoting %s", [primary_id, fo_target]),
		} |
			fo_fence == "fence"
		],
		[{
			"target": fo_target,
			"effector": "promote",
			"args": {},
			"reason": sprintf("failover: promote standby %s (runs only if the fence succeeded)", [fo_target]),
		} |
			fo_promote
		],
	),
	[{
		"target": "self",
		"effector": "repoint",
		"args": {"site": fo_target},
		"reason": sprintf("failover: repoint traffic from %s to %s", [primary_id, fo_target]),
	}],
) if {
	fo_block == ""
} else := []

fo_detail := {
	"primary": primary_id,
	"down_since": primary_down_since,
	"down_for": primary_down_for,
	"grace_s": grace_s,
	"standby": fo_target,
	"attempt": fo_attempt,
	"max_attempts": max_attempts,
}

fo_sym_block := [] if {
	fo_block == ""
} else := [] if {
	# reported below as its own symptom, with the fence detail
	fo_block == "fence_unreachable"
} else := [{"name": fo_block, "severity": "critical", "detail": object.union(fo_detail, fo_block_detail)}]

fo_block_detail := {
	"lag_s": lag_s(site_by_id[fo_target]),
	"lag_bytes": lag_bytes(site_by_id[fo_target]),
	"rpo_s": rpo_s,
	"rpo_bytes": rpo_bytes,
} if {
	fo_block == "rpo_violated"
} else := {"missing": fo_missing} if {
	fo_block == "dr_effector_missing"
} else := {}

fo_sym_fence := [{
	"name": "fence_unreachable",
	"severity": fence_sev,
	"detail": object.union(fo_detail, {"site": primary_id, "continue_if_unfenceable": continue_if_unfenceable}),
}] if {
	fo_reached_fence
	fo_fence == "unreachable"
} else := []

fence_sev := "warning" if {
	continue_if_unfenceable
} else := "critical"

fo_sym_forced := [{
	"name": "rpo_overridden",
	"severity": "warning",
	"detail": {
		"standby": fo_target,
		"lag_s": lag_s(site_by_id[fo_target]),
		"lag_bytes": lag_bytes(site_by_id[fo_target]),
		"rpo_s": rpo_s,
		"rpo_bytes": rpo_bytes,
	},
}] if {
	fo_block == ""
	fo_promote
	not lag_within_rpo(site_by_id[fo_target])
} else := []

fo_sym_planned := [{
	"name": "failover_planned",
	"severity": "critical",
	"detail": object.union(fo_detail, {
		"steps": [a.effector | some a in fo_actions],
		"expected_data_loss": expected_data_loss,
	}),
}] if {
	fo_block == ""
} else := []

fo_symptoms := array.concat(array.concat(fo_sym_fence, fo_sym_block), array.concat(fo_sym_forced, fo_sym_planned))

fo_escalations := [] if {
	fo_block == ""
} else := [{
	"symptom": fo_block,
	"detail": object.union(fo_detail, fo_block_detail),
	"key": {"symptom": fo_block, "site": primary_id, "since": primary_down_since},
}]

fo_plan := {
	"kind": "failover",
	"from": primary_id,
	"to": fo_target,
	"planned_at": now,
	"rto_from": primary_down_since,
	"attempt": fo_attempt,
	"steps": [a.effector | some a in fo_actions],
	"expected_data_loss": expected_data_loss,
	"status": "in_progress",
	"recovered_at": null,
	"rto_s": null,
}

# ---------------------------------------------------------------------------
# Failback (only when configured) and the home site
# ---------------------------------------------------------------------------

remembered_home := h if {
	h := remembered["autonomic.dr.home"]
	is_string(h)
} else := null

home := preferred_primary if {
	preferred_primary in site_ids
} else := remembered_home if {
	remembered_home in site_ids
} else := null

home_next := remembered_home if {
	remembered_home != null
} else := primary_id

home_site := site_by_id[home]

failback_candidate if {
	failback
	home != null
	primary_id != null
	home != primary_id
	healthy_standby(home_site)
	health_known(primary)
	not down(primary)
}

fb_healthy_for := now - healthy_since[home]

failback_due if {
	failback_candidate
	fb_healthy_for >= grace_s
}

fb_same_episode if {
	plan_in_progress
	plan_prev.kind == "failback"
	plan_prev.from == primary_id
	plan_prev.to == home
}

fb_attempt := num(object.get(plan_prev, "attempt", null), 0) + 1 if {
	fb_same_episode
} else := 1

fb_fence := fence_state(primary)

fb_missing := array.concat(
	array.concat(
		[{"target": primary_id, "effector": "fence"} | fb_fence == "fence"; not declares(primary, "fence")],
		[{"target": home, "effector": "promote"} | not declares(home_site, "promote")],
	),
	[{"target": self_id, "effector": "repoint"} | not "repoint" in fabric_effectors],
) if {
	failback_candidate
} else := []

# ("not_due" never reaches the decision: failback mode requires failback_due)
fb_block := "not_due" if {
	not failback_due
} else := "failback_failed" if {
	fb_same_episode
	num(object.get(plan_prev, "attempt", null), 0) >= max_attempts
} else := "dr_effector_missing" if {
	count(fb_missing) > 0
} else := "fence_unreachable" if {
	# a voluntary switch never runs with an unfenceable, serving primary
	fb_fence == "unreachable"
} else := "rpo_violated" if {
	not rpo_ok(home_site)
} else := ""

fb_actions := array.concat(
	array.concat(
		[{
			"target": primary_id,
			"effector": "fence",
			"args": {},
			"reason": sprintf("failback: fence %s before promoting home site %s", [primary_id, home]),
		} |
			fb_fence == "fence"
		],
		[{
			"target": home,
			"effector": "promote",
			"args": {},
			"reason": sprintf("failback: promote home site %s (runs only if the fence succeeded)", [home]),
		}],
	),
	[{
		"target": "self",
		"effector": "repoint",
		"args": {"site": home},
		"reason": sprintf("failback: repoint traffic from %s to %s", [primary_id, home]),
	}],
) if {
	fb_block == ""
} else := []

fb_detail := {
	"primary": primary_id,
	"home": home,
	"healthy_since": healthy_since[home],
	"grace_s": grace_s,
	"attempt": fb_attempt,
	"max_attempts": max_attempts,
	"lag_s": lag_s(home_site),
	"lag_bytes": lag_bytes(home_site),
	"rpo_s": rpo_s,
	"rpo_bytes": rpo_bytes,
}

fb_symptoms := [{
	"name": "failback_planned",
	"severity": "warning",
	"detail": object.union(fb_detail, {"steps": [a.effector | some a in fb_actions]}),
}] if {
	fb_block == ""
} else := [{
	"name": fb_block,
	"severity": "critical",
	"detail": fb_detail,
}] if {
	fb_block in {"failback_failed", "dr_effector_missing"}
} else := [{
	"name": fb_block,
	"severity": "info",
	"detail": object.union(fb_detail, {"context": "failback"}),
}]

fb_escalations := [{
	"symptom": fb_block,
	"detail": fb_detail,
	"key": {"symptom": fb_block, "site": home, "since": healthy_since[home]},
}] if {
	fb_block in {"failback_failed", "dr_effector_missing"}
} else := []

fb_plan := {
	"kind": "failback",
	"from": primary_id,
	"to": home,
	"planned_at": now,
	"rto_from": now,
	"attempt": fb_attempt,
	"steps": [a.effector | some a in fb_actions],
	"expected_data_loss": expected_data_loss,
	"status": "in_progress",
	"recovered_at": null,
	"rto_s": null,
}

# failback wanted but the home site has not been healthy for grace_s yet
fb_waiting_symptoms := [{
	"name": "failback_waiting",
	"severity": "info",
	"detail": {
		"home": home,
		"healthy_for": fb_healthy_for,
		"grace_s": grace_s,
	},
}] if {
	failback_candidate
	not failback_due
} else := []

# ---------------------------------------------------------------------------
# Rejoin: a fenced site that answers again follows the current primary
# ---------------------------------------------------------------------------

rejoin_ids := [id |
	healthy_primary(primary)
	some id in sort(site_ids)
	id != primary_id
	s := site_by_id[id]
	role(s) == "fenced"
	reachable(s)
	not down(s)
	declares(s, "rejoin_as_standby")
]

rj_actions := [{
	"target": id,
	"effector": "rejoin_as_standby",
	"args": {"primary": primary_id},
	"reason": sprintf("fenced site %s is reachable again: rejoin as a standby of %s", [id, primary_id]),
} |
	some id in rejoin_ids
]

# ---------------------------------------------------------------------------
# Mode: one plan per decision, in priority order
# ---------------------------------------------------------------------------

mode := "busy" if {
	dr_busy
} else := "split_brain" if {
	split_brain
} else := "failover" if {
	primary_failed
	not fo_done
} else := "failback" if {
	failback_due
} else := "rejoin" if {
	count(rejoin_ids) > 0
} else := "steady"

plan_actions := sb_actions if {
	mode == "split_brain"
} else := fo_actions if {
	mode == "failover"
} else := fb_actions if {
	mode == "failback"
} else := rj_actions if {
	mode == "rejoin"
} else := []

expected_data_loss := data_loss(site_by_id[fo_target]) if {
	mode == "failover"
	fo_promote
} else := {"seconds": 0, "bytes": 0} if {
	# the standby was promoted by an earlier attempt: nothing more is lost now
	mode == "failover"
	fo_target != null
} else := data_loss(home_site) if {
	mode == "failback"
} else := null

planned if {
	mode in {"failover", "failback"}
	count(plan_actions) > 0
}

plan_next := fo_plan if {
	planned
	mode == "failover"
} else := fb_plan if {
	planned
	mode == "failback"
} else := plan_settled

# ---------------------------------------------------------------------------
# Symptoms
# ---------------------------------------------------------------------------

sym_primary := [{
	"name": "primary_down",
	"severity": primary_down_sev,
	"detail": {
		"site": primary_id,
		"down_since": primary_down_since,
		"down_for": primary_down_for,
		"grace_s": grace_s,
		"failing_signals": sort([k | some k, v in signals(primary); v != true]),
		"quorum": quorum,
	},
}] if {
	primary_down
} else := [{
	"name": "health_unknown",
	"severity": "warning",
	"detail": {"site": primary_id},
}] if {
	primary_id != null
	not health_known(primary)
} else := [{
	"name": "primary_unknown",
	"severity": "warning",
	"detail": {"primary_site": primary_site_sensor, "sites": sort(site_ids)},
}] if {
	primary_id == null
	not split_brain
} else := []

sym_stale := [{
	"name": "primary_site_stale",
	"severity": "warning",
	"detail": {"primary_site": primary_id, "expected": plan_settled.to},
}] if {
	primary_failed
	fo_done
} else := []

primary_down_sev := "critical" if {
	primary_failed
} else := "warning"

sym_split := [{
	"name": "split_brain",
	"severity": "critical",
	"detail": {
		"sites": claimants,
		"primary_site": primary_site_sensor,
		"keep": sb_keep,
		"fence": sb_fence,
		"blocked": sb_blocked,
	},
}] if {
	split_brain
} else := []

sym_split_unreachable := [{
	"name": "fence_unreachable",
	"severity": "critical",
	"detail": {"site": id, "context": "split_brain"},
} |
	mode == "split_brain"
	some id in sb_blocked
	not reachable(site_by_id[id])
]

sym_busy := [{
	"name": "dr_in_progress",
	"severity": "info",
	"detail": {"actions": busy_actions},
}] if {
	mode == "busy"
} else := []

sym_mode := fo_symptoms if {
	mode == "failover"
} else := array.concat(sym_split, sym_split_unreachable) if {
	mode == "split_brain"
} else := fb_symptoms if {
	mode == "failback"
} else := [{
	"name": "site_rejoining",
	"severity": "info",
	"detail": {"sites": rejoin_ids, "primary": primary_id},
}] if {
	mode == "rejoin"
} else := sym_split if {
	# split brain seen while an action is in flight: report, act later
	mode == "busy"
} else := []

sym_waiting := fb_waiting_symptoms if {
	mode in {"steady", "rejoin"}
} else := []

sym_completed := [{
	"name": "failover_completed",
	"severity": "info",
	"detail": {
		"kind": str(object.get(plan_prev, "kind", null), ""),
		"from": object.get(plan_prev, "from", null),
		"to": plan_to,
		"rto_s": measured_rto,
		"recovered_at": recovered_at,
		"expected_data_loss": object.get(plan_prev, "expected_data_loss", null),
	},
}] if {
	plan_completed_now
} else := []

symptoms := array.concat(
	array.concat(array.concat(sym_completed, sym_primary), array.concat(sym_busy, sym_mode)),
	array.concat(sym_stale, sym_waiting),
)

# ---------------------------------------------------------------------------
# Escalations, each sent once while its cause lasts
# ---------------------------------------------------------------------------

sb_escalations := [{
	"symptom": "split_brain",
	"detail": {"sites": claimants, "primary_site": primary_site_sensor, "keep": sb_keep, "blocked": sb_blocked},
	"key": {"symptom": "split_brain", "sites": claimants},
}] if {
	mode == "split_brain"
	count(sb_blocked) + count([1 | sb_keep == null]) > 0
} else := []

esc_items := fo_escalations if {
	mode == "failover"
} else := sb_escalations if {
	mode == "split_brain"
} else := fb_escalations if {
	mode == "failback"
} else := []

prev_esc_keys := arr(object.get(remembered, "autonomic.dr.escalated", []))

escalate := [{"symptom": e.symptom, "detail": e.detail} |
	some e in esc_items
	not e.key in prev_esc_keys
]

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

plan_out := plan_next if {
	count(plan_next) > 0
} else := null

decision := {
	"mode": mode,
	"primary_site": primary_id,
	"symptoms": symptoms,
	"actions": plan_actions,
	"escalate": escalate,
	"expected_data_loss": expected_data_loss,
	"rto_s": rto_s,
	"failover": plan_out,
	"remember": {
		"autonomic.dr.down_since": down_since,
		"autonomic.dr.healthy_since": healthy_since,
		"autonomic.dr.home": home_next,
		"autonomic.dr.plan": plan_next,
		"autonomic.dr.escalated": [e.key | some e in esc_items],
	},
}
