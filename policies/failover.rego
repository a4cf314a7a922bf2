# Failure detection, restart and replacement (autonomic.failover).
#
# One package, two levels, chosen by `level` (see docs/policies/failover.md):
#
#   member  - bound to a member entity: decides when the member has *failed*
#             (on_fire for failed_after s, after having been up) and when it has
#             *recovered* (running for recovered_after s), restarts it once per
#             failure, and escalates `member_failed` to the cluster on a
#             recurring failure or a failed restart (Brooklyn's
#             ServiceFailureDetector + ServiceRestarter).
#   cluster - bound to a cluster entity: replaces failed members through the
#             cluster's own `replace_member(id)` effector, at most a share of the
#             members at once, and gives up (escalating `cluster_failing`) after
#             too many failures in a window (Brooklyn's ServiceReplacer).
#
# Level rule: config `failover.level` "member" or "cluster" wins; otherwise
# ("auto", the default) an entity that declares the effector `replace_member`
# is a cluster, anything else a member.
#
# Pure and deterministic: time comes only from input.now; every value read
# from the input is type-checked first, so no input can raise a runtime error
# on either OPA or regorus.
package autonomic.failover

import rego.v1

# ---------------------------------------------------------------------------
# Input, normalised
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

lifecycle := str(object.get(entity, "lifecycle", ""), "")

# When lifecycle_since is unknown the current state is taken to start now.
since := num(object.get(entity, "lifecycle_since", null), now)

effectors := {e | some e in arr(object.get(entity, "effectors", [])); is_string(e)}

children := [c |
	some c in arr(object.get(_in, "children", []))
	is_object(c)
	is_string(object.get(c, "id", null))
]

knowledge := obj(object.get(_in, "knowledge", {}))

k_actions := [a | some a in arr(object.get(knowledge, "actions", [])); is_object(a)]

remembered := obj(object.get(knowledge, "remembered", {}))

events := [ev | some ev in arr(object.get(_in, "events", [])); is_object(ev)]

in_flight := {"pending", "running"}

# ---------------------------------------------------------------------------
# Config (input.entity.config.failover), with defaults
# ---------------------------------------------------------------------------

conf := obj(object.get(obj(object.get(entity, "config", {})), "failover", {}))

cfg_num(k, d) := v if {
	v := conf[k]
	is_number(v)
	v >= 0
} else := d

cfg_bool(k, d) := v if {
	v := conf[k]
	is_boolean(v)
} else := d

# member level and (for detect_on_fire) cluster level
failed_after := cfg_num("failed_after", 0)

recovered_after := cfg_num("recovered_after", 0)

failure_window_s := cfg_num("failure_window_s", 180)

# cluster level
detect_on_fire := cfg_bool("detect_on_fire", false)

max_failures := cfg_num("max_failures", 5)

give_up_window_s := cfg_num("give_up_window_s", 300)

max_concurrent_share := v if {
	v := conf.max_concurrent_share
	is_number(v)
	v > 0
	v <= 1
} else := 0.5

level := "cluster" if {
	conf.level == "cluster"
} else := "member" if {
	conf.level == "member"
} else := "cluster" if {
	"replace_member" in effectors
} else := "member"

# ---------------------------------------------------------------------------
# Member level
# ---------------------------------------------------------------------------

m_state := obj(object.get(remembered, "autonomic.failover.member", {}))

m_prev_status := "failed" if {
	m_state.status == "failed"
} else := "ok"

m_prev_failed_at := v if {
	v := m_state.failed_at
	is_number(v)
} else := null

m_prev_failed_since := v if {
	v := m_state.failed_since
	is_number(v)
} else := null

m_prev_gave_up if {
	m_state.gave_up == true
} else := false

# Brooklyn's "onlyReportIfPreviouslyUp": seen up (now or in an earlier round),
# or a lifecycle event shows it left `running`.
default m_was_up := false

m_was_up if m_state.was_up == true

m_was_up if entity.up == true

m_was_up if lifecycle == "running"

m_was_up if {
	some ev in events
	ev.type == "lifecycle"
	ev.source == self_id
	ev.from == "running"
}

# An operator asked it to stop: on_fire while stopping is not a failure.
m_stopping if entity.expected in {"stopping", "stopped"}

# Some action of this manager on the entity is still pending or running.
m_busy if {
	some a in k_actions
	a.target == self_id
	a.status in in_flight
}

m_state_for := now - since

# The on_fire period we already reported as a failure.
m_same_episode if {
	m_prev_status == "failed"
	m_prev_failed_since == since
}

m_new_failure if {
	level == "member"
	lifecycle == "on_fire"
	not m_stopping
	not m_busy
	m_was_up
	m_state_for >= failed_after
	not m_same_episode
}

# ServiceRestarter's failOnRecurringFailuresInThisDuration.
m_recurring if {
	m_new_failure
	is_number(m_prev_failed_at)
	now - m_prev_failed_at <= failure_window_s
}

# A restart issued for the failure we are still in ended in error or timeout.
m_restart_failed if {
	m_prev_status == "failed"
	is_number(m_prev_failed_at)
	some a in k_actions
	a.target == self_id
	a.effector == "restart"
	a.status in {"error", "timeout"}
	is_number(a.requested)
	a.requested >= m_prev_failed_at
}

m_escalation_reason := "restart_failed" if {
	m_new_failure
	m_restart_failed
} else := "recurring_failure" if {
	m_new_failure
	m_recurring
} else := "gave_up_earlier" if {
	m_new_failure
	m_prev_gave_up
} else := "no_restart_effector" if {
	m_new_failure
	not "restart" in effectors
} else := "restart_failed" if {
	level == "member"
	not m_new_failure
	not m_prev_gave_up
	not m_busy
	lifecycle != "running"
	m_restart_failed
} else := ""

m_escalating if m_escalation_reason != ""

m_restart if {
	m_new_failure
	not m_escalating
}

m_recovered if {
	level == "member"
	m_prev_status == "failed"
	lifecycle == "running"
	m_state_for >= recovered_after
}

m_recovering if {
	level == "member"
	m_prev_status == "failed"
	lifecycle == "running"
	not m_recovered
}

m_failed_at := now if {
	m_new_failure
} else := m_prev_failed_at

m_pending_reason := "stopping" if {
	m_stopping
} else := "action_in_flight" if {
	m_busy
} else := "never_up" if {
	not m_was_up
} else := "stabilizing"

m_sym_pending := [{
	"name": "on_fire_pending",
	"severity": "info",
	"detail": {
		"entity": self_id,
		"reason": m_pending_reason,
		"on_fire_since": since,
		"on_fire_for": m_state_for,
		"failed_after": failed_after,
	},
}] if {
	level == "member"
	lifecycle == "on_fire"
	not m_new_failure
	not m_same_episode
} else := []

m_sym_failed := [{
	"name": "entity_failed",
	"severity": "critical",
	"detail": {
		"entity": self_id,
		"on_fire_since": since,
		"on_fire_for": m_state_for,
		"failed_after": failed_after,
		"previous_failure_at": m_prev_failed_at,
		"not_up_reasons": obj(object.get(entity, "not_up_reasons", {})),
		"action": m_failed_action,
	},
}] if {
	m_new_failure
} else := []

m_failed_action := "escalate" if {
	m_escalating
} else := "restart"

m_sym_gave_up := [{
	"name": "restart_given_up",
	"severity": "critical",
	"detail": {
		"entity": self_id,
		"reason": m_escalation_reason,
		"failed_at": m_failed_at,
		"previous_failure_at": m_prev_failed_at,
		"failure_window_s": failure_window_s,
	},
}] if {
	m_escalating
} else := []

m_sym_recovering := [{
	"name": "entity_recovering",
	"severity": "info",
	"detail": {
		"entity": self_id,
		"running_since": since,
		"running_for": m_state_for,
		"recovered_after": recovered_after,
	},
}] if {
	m_recovering
} else := []

m_sym_recovered := [{
	"name": "entity_recovered",
	"severity": "info",
	"detail": {
		"entity": self_id,
		"running_since": since,
		"running_for": m_state_for,
		"recovered_after": recovered_after,
		"failed_at": m_prev_failed_at,
	},
}] if {
	m_recovered
} else := []

m_symptoms := array.concat(
	array.concat(array.concat(m_sym_pending, m_sym_failed), m_sym_gave_up),
	array.concat(m_sym_recovering, m_sym_recovered),
)

m_actions := [{
	"target": "self",
	"effector": "restart",
	"args": {},
	"reason": sprintf("%s is on_fire after having been up: restarting it", [self_id]),
}] if {
	m_restart
} else := []

m_escalate := [{
	"symptom": "member_failed",
	"detail": {
		"member": self_id,
		"reason": m_escalation_reason,
		"lifecycle": lifecycle,
		"lifecycle_since": since,
		"failed_at": m_failed_at,
		"previous_failure_at": m_prev_failed_at,
		"failure_window_s": failure_window_s,
	},
}] if {
	m_escalating
} else := []

m_next_status := "failed" if {
	m_new_failure
} else := "ok" if {
	m_recovered
} else := m_prev_status

m_next_failed_since := since if {
	m_new_failure
} else := m_prev_failed_since

m_next_gave_up if {
	m_escalating
} else := false if {
	m_recovered
} else := m_prev_gave_up

m_next_recovered_at := now if {
	m_recovered
} else := v if {
	v := m_state.recovered_at
	is_number(v)
} else := null

m_remember := {"autonomic.failover.member": {
	"was_up": m_was_up,
	"status": m_next_status,
	"failed_at": m_failed_at,
	"failed_since": m_next_failed_since,
	"gave_up": m_next_gave_up,
	"recovered_at": m_next_recovered_at,
}}

# ---------------------------------------------------------------------------
# Cluster level
# ---------------------------------------------------------------------------

c_state := obj(object.get(remembered, "autonomic.failover.cluster", {}))

c_prev_pending := obj(object.get(c_state, "pending", {}))

child_ids := {c.id | some c in children}

child_by_id := {c.id: c | some c in children}

# Members seen up, so that an on_fire member that never came up is not
# replaced (detect_on_fire only; escalations are trusted).
c_seen_up := (({id |
	some id in arr(object.get(c_state, "seen_up", []))
	id in child_ids
} | {c.id | some c in children; c.up == true}) | {c.id | some c in children; c.lifecycle == "running"}) | {ev.source |
	some ev in events
	ev.type == "lifecycle"
	ev.from == "running"
	ev.source in child_ids
}

c_escalated := {ev.source |
	some ev in events
	ev.type == "escalation"
	ev.symptom == "member_failed"
	ev.source in child_ids
}

c_on_fire := {c.id |
	detect_on_fire
	some c in children
	c.lifecycle == "on_fire"
	not str(object.get(c, "expected", null), "") in {"stopping", "stopped"}
	c.id in c_seen_up
	now - num(object.get(c, "lifecycle_since", null), now) >= failed_after
}

c_reason(id) := "member_failed" if {
	id in c_escalated
} else := "on_fire"

c_detail(id) := ds[count(ds) - 1] if {
	ds := [obj(object.get(ev, "detail", {})) |
		some ev in events
		ev.type == "escalation"
		ev.symptom == "member_failed"
		ev.source == id
	]
	count(ds) > 0
} else := {}

# A queued failure is settled once a replace_member for it succeeded, or the
# member went back to running after it was queued.
c_resolved(id, e) if {
	some a in k_actions
	a.effector == "replace_member"
	a.args.id == id
	a.status == "ok"
	is_number(a.requested)
	a.requested >= e.since
}

c_resolved(id, e) if {
	c := child_by_id[id]
	c.lifecycle == "running"
	is_number(c.lifecycle_since)
	c.lifecycle_since > e.since
}

c_norm(e) := {
	"since": num(object.get(e, "since", null), now),
	"reason": str(object.get(e, "reason", null), "member_failed"),
	"detail": obj(object.get(e, "detail", {})),
}

c_kept := {id: n |
	some id, e in c_prev_pending
	is_object(e)
	id in child_ids
	n := c_norm(e)
	not c_resolved(id, n)
}

c_new_ids := {id |
	some id in (c_escalated | c_on_fire)
	not c_kept[id]
}

c_new := {id: {"since": now, "reason": c_reason(id), "detail": c_detail(id)} | some id in c_new_ids}

c_pending := object.union(c_kept, c_new)

c_busy_ids := {a.target | some a in k_actions; a.status in in_flight} | {a.args.id |
	some a in k_actions
	a.status in in_flight
	a.effector == "replace_member"
}

c_candidate_ids := [k[1] |
	some k in sort([[e.since, id] | some id, e in c_pending; not id in c_busy_ids])
]

c_window_start := now - give_up_window_s

c_attempts := count([a |
	some a in k_actions
	a.effector == "replace_member"
	a.status in {"pending", "running", "ok", "error", "timeout", "unknown"}
	is_number(a.requested)
	a.requested >= c_window_start
])

c_prev_failures := [t |
	some t in arr(object.get(c_state, "failures", []))
	is_number(t)
	t >= c_window_start
]

c_fail_count := max([c_attempts, count(c_prev_failures)])

c_giving_up if {
	level == "cluster"
	count(c_candidate_ids) > 0
	c_fail_count >= max_failures
}

c_limit := max([1, floor(max_concurrent_share * count(children))])

c_in_flight := count([a |
	some a in k_actions
	a.effector == "replace_member"
	a.status in in_flight
])

c_slots := c_limit - c_in_flight

c_can_replace if {
	level == "cluster"
	not c_giving_up
	"replace_member" in effectors
}

c_chosen := [id | some i, id in c_candidate_ids; i < c_slots] if {
	c_can_replace
} else := []

c_deferred := [id | some i, id in c_candidate_ids; i >= c_slots] if {
	c_can_replace
} else := []

c_sym_failed := [{
	"name": "member_failed",
	"severity": "warning",
	"detail": {
		"member": id,
		"reason": c_new[id].reason,
		"detail": c_new[id].detail,
	},
} |
	level == "cluster"
	some id in sort(c_new_ids)
]

c_sym_failing := [{
	"name": "cluster_failing",
	"severity": "critical",
	"detail": {
		"failures": c_fail_count,
		"max_failures": max_failures,
		"give_up_window_s": give_up_window_s,
		"members": c_candidate_ids,
	},
}] if {
	c_giving_up
} else := []

c_sym_deferred := [{
	"name": "replacement_deferred",
	"severity": "info",
	"detail": {
		"members": c_deferred,
		"in_flight": c_in_flight,
		"limit": c_limit,
	},
}] if {
	count(c_deferred) > 0
} else := []

c_sym_undeclared := [{
	"name": "replace_member_undeclared",
	"severity": "warning",
	"detail": {"members": c_candidate_ids},
}] if {
	level == "cluster"
	not c_giving_up
	count(c_candidate_ids) > 0
	not "replace_member" in effectors
} else := []

c_symptoms := array.concat(
	array.concat(c_sym_failed, c_sym_failing),
	array.concat(c_sym_deferred, c_sym_undeclared),
)

c_actions := [{
	"target": "self",
	"effector": "replace_member",
	"args": {"id": id},
	"reason": sprintf("member %s failed (%s): replacing it (the replacement starts before the old member stops)", [id, c_pending[id].reason]),
} |
	some id in c_chosen
]

c_escalate := [{
	"symptom": "cluster_failing",
	"detail": {
		"cluster": self_id,
		"failures": c_fail_count,
		"max_failures": max_failures,
		"give_up_window_s": give_up_window_s,
		"members": c_candidate_ids,
	},
}] if {
	c_giving_up
	not c_state.gave_up == true
} else := []

c_next_failures := sort(array.concat(c_prev_failures, [now | some _ in c_new_ids]))

c_remember := {"autonomic.failover.cluster": {
	"pending": c_pending,
	"seen_up": sort(c_seen_up),
	"failures": c_next_failures,
	"gave_up": c_gave_up_flag,
}}

c_gave_up_flag if {
	c_giving_up
} else := false

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

symptoms := m_symptoms if {
	level == "member"
} else := c_symptoms

actions := m_actions if {
	level == "member"
} else := c_actions

escalate := m_escalate if {
	level == "member"
} else := c_escalate

remember := m_remember if {
	level == "member"
} else := c_remember

decision := {
	"level": level,
	"symptoms": symptoms,
	"actions": actions,
	"escalate": escalate,
	"remember": remember,
}
