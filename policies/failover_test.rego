package autonomic.failover_test

import rego.v1

import data.autonomic.failover as fo

# ---------------------------------------------------------------------------
# Fixtures. Every input the tests use is a value of `cases`, so a harness can
# evaluate the same inputs on OPA and on regorus and compare the decisions.
# Times are integral or halves, exact on every engine.
# ---------------------------------------------------------------------------

base_member := {
	"now": 1000,
	"entity": {
		"id": "shop/web/w1",
		"name": "w1",
		"type": "worker",
		"config": {},
		"lifecycle": "running",
		"expected": "running",
		"lifecycle_since": 900,
		"up": true,
		"ready": true,
		"not_up_reasons": {},
		"sensors": {},
		"sensor_times": {},
		"effectors": ["restart", "start", "stop"],
	},
	"children": [],
	"knowledge": {"actions": [], "remembered": {}, "history": {}, "cooldowns": {}},
	"events": [],
}

mi(over) := object.union(base_member, over)

on_fire(t) := {
	"lifecycle": "on_fire",
	"lifecycle_since": t,
	"up": false,
	"not_up_reasons": {"process": "exited"},
}

mem(state) := {"autonomic.failover.member": state}

failed_state(at, since) := {
	"was_up": true,
	"status": "failed",
	"failed_at": at,
	"failed_since": since,
	"gave_up": false,
	"recovered_at": null,
}

ok_state(failed_at) := {
	"was_up": true,
	"status": "ok",
	"failed_at": failed_at,
	"failed_since": null,
	"gave_up": false,
	"recovered_at": null,
}

restart_action(status, requested) := {
	"id": "a1",
	"round": 1,
	"target": "shop/web/w1",
	"effector": "restart",
	"args": {},
	"reason": "r",
	"status": status,
	"requested": requested,
	"started": requested,
	"finished": null,
	"duration": null,
	"error": null,
}

worker(name, lc, since, up) := {
	"id": concat("/", ["shop/web", name]),
	"name": name,
	"type": "worker",
	"config": {},
	"lifecycle": lc,
	"expected": "running",
	"lifecycle_since": since,
	"up": up,
	"ready": up,
	"not_up_reasons": {},
	"sensors": {},
	"sensor_times": {},
	"effectors": ["restart", "start", "stop"],
}

four_workers := [
	worker("w1", "running", 10, true),
	worker("w2", "running", 10, true),
	worker("w3", "running", 10, true),
	worker("w4", "running", 10, true),
]

base_cluster := {
	"now": 1000,
	"entity": {
		"id": "shop/web",
		"name": "web",
		"type": "web-cluster",
		"config": {},
		"lifecycle": "running",
		"expected": "running",
		"lifecycle_since": 0,
		"up": true,
		"ready": true,
		"not_up_reasons": {},
		"sensors": {},
		"sensor_times": {},
		"effectors": ["replace_member", "resize", "restart", "start", "stop"],
	},
	"children": four_workers,
	"knowledge": {"actions": [], "remembered": {}, "history": {}, "cooldowns": {}},
	"events": [],
}

ci(over) := object.union(base_cluster, over)

esc(name) := {
	"type": "escalation",
	"source": concat("/", ["shop/web", name]),
	"symptom": "member_failed",
	"detail": {"reason": "recurring_failure"},
	"time": 999,
}

replace_action(name, status, requested) := {
	"id": concat("-", ["r", name, status]),
	"round": 1,
	"target": "shop/web",
	"effector": "replace_member",
	"args": {"id": concat("/", ["shop/web", name])},
	"reason": "r",
	"status": status,
	"requested": requested,
	"started": requested,
	"finished": null,
	"duration": null,
	"error": null,
}

clu(state) := {"autonomic.failover.cluster": state}

cases := {
	# ---- member level ----
	"m_healthy": mi({}),
	"m_restart": mi({
		"entity": on_fire(990),
		"knowledge": {"remembered": mem(ok_state(null))},
	}),
	"m_never_up": mi({"entity": on_fire(990)}),
	"m_up_by_event": mi({
		"entity": on_fire(990),
		"events": [{"type": "lifecycle", "source": "shop/web/w1", "from": "running", "to": "on_fire", "time": 990}],
	}),
	"m_event_other_entity": mi({
		"entity": on_fire(990),
		"events": [{"type": "lifecycle", "source": "shop/web/w2", "from": "running", "to": "on_fire", "time": 990}],
	}),
	"m_stabilizing": mi({
		"entity": object.union(on_fire(990), {"config": {"failover": {"failed_after": 30}}}),
		"knowledge": {"remembered": mem(ok_state(null))},
	}),
	"m_stabilized": mi({
		"entity": object.union(on_fire(970), {"config": {"failover": {"failed_after": 30}}}),
		"knowledge": {"remembered": mem(ok_state(null))},
	}),
	"m_same_episode": mi({
		"entity": on_fire(990),
		"knowledge": {
			"remembered": mem(failed_state(995, 990)),
			"actions": [restart_action("ok", 995)],
		},
	}),
	"m_in_flight": mi({
		"entity": on_fire(990),
		"knowledge": {
			"remembered": mem(ok_state(null)),
			"actions": [restart_action("running", 985)],
		},
	}),
	"m_restart_error": mi({
		"entity": on_fire(990),
		"knowledge": {
			"remembered": mem(failed_state(990, 990)),
			"actions": [restart_action("error", 990)],
		},
	}),
	"m_restart_timeout_new_episode": mi({
		"entity": on_fire(996),
		"knowledge": {
			"remembered": mem(failed_state(990, 990)),
			"actions": [restart_action("timeout", 990)],
		},
	}),
	"m_restart_error_escalated": mi({
		"entity": on_fire(990),
		"knowledge": {
			"remembered": mem(object.union(failed_state(990, 990), {"gave_up": true})),
			"actions": [restart_action("error", 990)],
		},
	}),
	"m_restart_error_old": mi({
		# an error from before the current failure does not count
		"entity": on_fire(990),
		"knowledge": {
			"remembered": mem(failed_state(995, 990)),
			"actions": [restart_action("error", 500)],
		},
	}),
	"m_recurring": mi({
		"entity": on_fire(990),
		"knowledge": {"remembered": mem(ok_state(900))},
	}),
	"m_recurring_edge": mi({
		"entity": on_fire(990),
		"knowledge": {"remembered": mem(ok_state(820))},
	}),
	"m_not_recurring": mi({
		"entity": on_fire(990),
		"knowledge": {"remembered": mem(ok_state(700))},
	}),
	"m_recurring_custom_window": mi({
		"entity": object.union(on_fire(990), {"config": {"failover": {"failure_window_s": 60}}}),
		"knowledge": {"remembered": mem(ok_state(900))},
	}),
	"m_refail_without_recovery": mi({
		# restarted fine, went on_fire again before it was seen recovered
		"entity": on_fire(998),
		"knowledge": {
			"remembered": mem(failed_state(950, 940)),
			"actions": [restart_action("ok", 950)],
		},
	}),
	"m_gave_up_earlier": mi({
		"entity": on_fire(990),
		"knowledge": {"remembered": mem(object.union(failed_state(500, 490), {"gave_up": true}))},
	}),
	"m_no_restart_effector": mi({
		"entity": object.union(on_fire(990), {"effectors": ["start", "stop"]}),
		"knowledge": {"remembered": mem(ok_state(null))},
	}),
	"m_recovered": mi({
		"entity": {"lifecycle": "running", "lifecycle_since": 995},
		"knowledge": {"remembered": mem(object.union(failed_state(980, 970), {"gave_up": true}))},
	}),
	"m_recovering": mi({
		"entity": {"lifecycle": "running", "lifecycle_since": 990, "config": {"failover": {"recovered_after": 30}}},
		"knowledge": {"remembered": mem(failed_state(980, 970))},
	}),
	"m_recovered_after": mi({
		"entity": {"lifecycle": "running", "lifecycle_since": 970, "config": {"failover": {"recovered_after": 30}}},
		"knowledge": {"remembered": mem(failed_state(960, 950))},
	}),
	"m_refail_while_recovering": mi({
		"entity": object.union(on_fire(999), {"config": {"failover": {"recovered_after": 30}}}),
		"knowledge": {
			"remembered": mem(failed_state(980, 970)),
			"actions": [restart_action("ok", 980)],
		},
	}),
	"m_stopping": mi({
		"entity": object.union(on_fire(990), {"expected": "stopped"}),
		"knowledge": {"remembered": mem(ok_state(null))},
	}),
	"m_starting": mi({
		"entity": {"lifecycle": "starting", "lifecycle_since": 990, "up": false},
		"knowledge": {"remembered": mem(failed_state(980, 970))},
	}),
	"m_bad_config": mi({
		"entity": object.union(on_fire(990), {"config": {"failover": {"failed_after": "soon", "failure_window_s": -5, "level": 3}}}),
		"knowledge": {"remembered": mem(ok_state(900))},
	}),
	"m_empty": {},
	"m_garbage": {
		"now": "later",
		"entity": {"id": 7, "config": "x", "effectors": "restart", "lifecycle": 5},
		"children": "none",
		"knowledge": {"actions": "x", "remembered": [], "history": 3},
		"events": {"a": 1},
	},
	"m_garbage_state": mi({
		"entity": on_fire(990),
		"knowledge": {
			"remembered": {"autonomic.failover.member": {"status": 1, "failed_at": "x", "failed_since": [], "gave_up": "yes", "was_up": true}},
			"actions": [7, "x", {"target": "shop/web/w1", "effector": "restart", "status": "error", "requested": "t"}],
		},
	}),
	# ---- cluster level ----
	"c_idle": ci({}),
	"c_escalated": ci({"events": [esc("w2")]}),
	"c_escalated_twice": ci({"events": [esc("w2"), object.union(esc("w2"), {"detail": {"reason": "restart_failed"}})]}),
	"c_share": ci({"events": [esc("w3"), esc("w1"), esc("w2")]}),
	"c_share_in_flight": ci({
		"events": [esc("w2"), esc("w3")],
		"knowledge": {"actions": [replace_action("w1", "running", 990)]},
	}),
	"c_share_full": ci({
		"events": [esc("w3")],
		"knowledge": {"actions": [replace_action("w1", "running", 990), replace_action("w2", "pending", 995)]},
	}),
	"c_busy_member": ci({
		"events": [esc("w2")],
		"knowledge": {
			"actions": [replace_action("w2", "pending", 995)],
			"remembered": clu({"pending": {"shop/web/w2": {"since": 995, "reason": "member_failed", "detail": {}}}, "seen_up": [], "failures": [995], "gave_up": false}),
		},
	}),
	"c_busy_target": ci({
		"events": [esc("w2")],
		"knowledge": {"actions": [object.union(restart_action("running", 995), {"target": "shop/web/w2"})]},
	}),
	"c_one_member": ci({
		"children": [worker("w1", "on_fire", 900, false)],
		"events": [esc("w1")],
	}),
	"c_share_all": ci({
		"entity": {"config": {"failover": {"max_concurrent_share": 1}}},
		"events": [esc("w3"), esc("w1"), esc("w2")],
	}),
	"c_give_up": ci({
		"events": [esc("w4")],
		"knowledge": {"actions": [
			replace_action("w1", "ok", 800),
			replace_action("w2", "error", 850),
			replace_action("w3", "timeout", 900),
			replace_action("w1", "ok", 950),
			replace_action("w2", "ok", 990),
		]},
	}),
	"c_give_up_escalated": ci({
		"knowledge": {
			"actions": [
				replace_action("w1", "ok", 800),
				replace_action("w2", "error", 850),
				replace_action("w3", "timeout", 900),
				replace_action("w1", "ok", 950),
				replace_action("w2", "ok", 990),
			],
			"remembered": clu({"pending": {"shop/web/w4": {"since": 995, "reason": "member_failed", "detail": {}}}, "seen_up": [], "failures": [995], "gave_up": true}),
		},
	}),
	"c_give_up_window_passed": ci({
		"events": [esc("w4")],
		"knowledge": {"actions": [
			replace_action("w1", "ok", 600),
			replace_action("w2", "error", 610),
			replace_action("w3", "timeout", 620),
			replace_action("w1", "ok", 650),
			replace_action("w2", "ok", 690),
		]},
	}),
	"c_give_up_held_not_counted": ci({
		"events": [esc("w4")],
		"knowledge": {"actions": [
			replace_action("w1", "held", 800),
			replace_action("w2", "skipped", 850),
			replace_action("w3", "dry_run", 900),
			replace_action("w1", "held", 950),
			replace_action("w2", "held", 990),
		]},
	}),
	"c_give_up_remembered": ci({
		"events": [esc("w4")],
		"knowledge": {"remembered": clu({"pending": {}, "seen_up": [], "failures": [800, 850, 900, 950, 990], "gave_up": false})},
	}),
	"c_give_up_custom": ci({
		"entity": {"config": {"failover": {"max_failures": 2, "give_up_window_s": 100}}},
		"events": [esc("w4")],
		"knowledge": {"remembered": clu({"pending": {}, "seen_up": [], "failures": [850, 950, 990], "gave_up": false})},
	}),
	"c_on_fire_ignored": ci({
		"children": [worker("w1", "on_fire", 100, false), worker("w2", "running", 10, true)],
		"knowledge": {"remembered": clu({"pending": {}, "seen_up": ["shop/web/w1", "shop/web/w2"], "failures": [], "gave_up": false})},
	}),
	"c_on_fire_detected": ci({
		"entity": {"config": {"failover": {"detect_on_fire": true, "failed_after": 60}}},
		"children": [worker("w1", "on_fire", 900, false), worker("w2", "running", 10, true)],
		"knowledge": {"remembered": clu({"pending": {}, "seen_up": ["shop/web/w1", "shop/web/w2"], "failures": [], "gave_up": false})},
	}),
	"c_on_fire_too_recent": ci({
		"entity": {"config": {"failover": {"detect_on_fire": true, "failed_after": 60}}},
		"children": [worker("w1", "on_fire", 970, false), worker("w2", "running", 10, true)],
		"knowledge": {"remembered": clu({"pending": {}, "seen_up": ["shop/web/w1", "shop/web/w2"], "failures": [], "gave_up": false})},
	}),
	"c_on_fire_never_up": ci({
		"entity": {"config": {"failover": {"detect_on_fire": true, "failed_after": 60}}},
		"children": [worker("w1", "on_fire", 900, false), worker("w2", "running", 10, true)],
	}),
	"c_on_fire_up_by_event": ci({
		"entity": {"config": {"failover": {"detect_on_fire": true}}},
		"children": [worker("w1", "on_fire", 998, false), worker("w2", "running", 10, true)],
		"events": [{"type": "lifecycle", "source": "shop/web/w1", "from": "running", "to": "on_fire", "time": 998}],
	}),
	"c_pending_retained": ci({"knowledge": {"remembered": clu({
		"pending": {"shop/web/w3": {"since": 990, "reason": "member_failed", "detail": {}}},
		"seen_up": [],
		"failures": [990],
		"gave_up": false,
	})}}),
	"c_retry_after_error": ci({"knowledge": {
		"actions": [replace_action("w3", "error", 990)],
		"remembered": clu({
			"pending": {"shop/web/w3": {"since": 990, "reason": "member_failed", "detail": {}}},
			"seen_up": [],
			"failures": [990],
			"gave_up": false,
		}),
	}}),
	"c_resolved_by_replace": ci({"knowledge": {
		"actions": [replace_action("w3", "ok", 990)],
		"remembered": clu({
			"pending": {"shop/web/w3": {"since": 990, "reason": "member_failed", "detail": {}}},
			"seen_up": [],
			"failures": [990],
			"gave_up": false,
		}),
	}}),
	"c_resolved_by_recovery": ci({
		"children": [
			worker("w1", "running", 10, true),
			worker("w2", "running", 10, true),
			worker("w3", "running", 995, true),
		],
		"knowledge": {"remembered": clu({
			"pending": {"shop/web/w3": {"since": 990, "reason": "member_failed", "detail": {}}},
			"seen_up": [],
			"failures": [990],
			"gave_up": false,
		})},
	}),
	"c_gone_member": ci({
		"children": [worker("w1", "running", 10, true)],
		"knowledge": {"remembered": clu({
			"pending": {"shop/web/w3": {"since": 990, "reason": "member_failed", "detail": {}}},
			"seen_up": ["shop/web/w3"],
			"failures": [990],
			"gave_up": false,
		})},
	}),
	"c_foreign_escalation": ci({"events": [
		object.union(esc("w9"), {"source": "shop/db/x"}),
		object.union(esc("w2"), {"symptom": "cannot_scale"}),
		{"type": "lifecycle", "source": "shop/web/w2", "from": "running", "to": "stopping", "time": 999},
	]}),
	"c_forced_member": ci({
		"entity": {"config": {"failover": {"level": "member"}}},
		"events": [esc("w2")],
	}),
	"c_forced_cluster_undeclared": ci({
		"entity": {"config": {"failover": {"level": "cluster"}}, "effectors": ["resize"]},
		"events": [esc("w2")],
	}),
	"c_bad_share": ci({
		"entity": {"config": {"failover": {"max_concurrent_share": 7}}},
		"events": [esc("w3"), esc("w1"), esc("w2")],
	}),
	"c_garbage_state": ci({
		"events": [esc("w1")],
		"knowledge": {
			"remembered": clu({"pending": {"shop/web/w2": "x", "shop/web/w3": {"since": "t"}}, "seen_up": "all", "failures": ["a", 1], "gave_up": 1}),
			"actions": [{"effector": "replace_member", "args": 5, "status": "pending"}],
		},
	}),
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

d(name) := x if {
	x := fo.decision with input as cases[name]
}

names(dec) := [s.name | some s in dec.symptoms]

sym(dec, n) := s if {
	some s in dec.symptoms
	s.name == n
}

effs(dec) := [a.effector | some a in dec.actions]

replaced(dec) := [a.args.id | some a in dec.actions; a.effector == "replace_member"]

mstate(dec) := dec.remember["autonomic.failover.member"]

cstate(dec) := dec.remember["autonomic.failover.cluster"]

is_restart(a) if {
	a.target == "self"
	a.effector == "restart"
	a.args == {}
	is_string(a.reason)
}

# ---------------------------------------------------------------------------
# Level selection
# ---------------------------------------------------------------------------

test_level_auto_member if d("m_healthy").level == "member"

test_level_auto_cluster if d("c_idle").level == "cluster"

test_level_forced_member if {
	x := d("c_forced_member")
	x.level == "member"
	x.actions == []
	x.remember["autonomic.failover.member"]
}

test_level_forced_cluster_without_effector if {
	x := d("c_forced_cluster_undeclared")
	x.level == "cluster"
	x.actions == []
	"replace_member_undeclared" in names(x)
	cstate(x).pending["shop/web/w2"]
}

# ---------------------------------------------------------------------------
# Member level: detection
# ---------------------------------------------------------------------------

test_healthy_member_no_action if {
	x := d("m_healthy")
	x.actions == []
	x.escalate == []
	x.symptoms == []
	mstate(x).was_up == true
	mstate(x).status == "ok"
}

test_failure_restarts if {
	x := d("m_restart")
	count(x.actions) == 1
	is_restart(x.actions[0])
	x.escalate == []
	names(x) == ["entity_failed"]
	s := sym(x, "entity_failed")
	s.severity == "critical"
	s.detail.on_fire_since == 990
	s.detail.on_fire_for == 10
	s.detail.action == "restart"
	s.detail.not_up_reasons == {"process": "exited"}
	mstate(x).status == "failed"
	mstate(x).failed_at == 1000
	mstate(x).failed_since == 990
}

test_never_up_not_failed if {
	x := d("m_never_up")
	x.actions == []
	x.escalate == []
	names(x) == ["on_fire_pending"]
	sym(x, "on_fire_pending").detail.reason == "never_up"
	mstate(x).was_up == false
	mstate(x).status == "ok"
}

test_up_by_lifecycle_event if {
	x := d("m_up_by_event")
	is_restart(x.actions[0])
	mstate(x).was_up == true
}

test_event_of_other_entity_ignored if {
	x := d("m_event_other_entity")
	x.actions == []
	sym(x, "on_fire_pending").detail.reason == "never_up"
}

test_failed_after_stabilizing if {
	x := d("m_stabilizing")
	x.actions == []
	s := sym(x, "on_fire_pending")
	s.detail.reason == "stabilizing"
	s.detail.failed_after == 30
	mstate(x).status == "ok"
}

test_failed_after_elapsed if {
	x := d("m_stabilized")
	is_restart(x.actions[0])
	sym(x, "entity_failed").detail.on_fire_for == 30
}

test_same_episode_reported_once if {
	x := d("m_same_episode")
	x.actions == []
	x.escalate == []
	x.symptoms == []
	mstate(x).status == "failed"
	mstate(x).failed_at == 995
}

test_no_action_while_in_flight if {
	x := d("m_in_flight")
	x.actions == []
	x.escalate == []
	sym(x, "on_fire_pending").detail.reason == "action_in_flight"
	mstate(x).status == "ok"
}

test_stopping_is_not_failure if {
	x := d("m_stopping")
	x.actions == []
	sym(x, "on_fire_pending").detail.reason == "stopping"
}

test_starting_after_restart_quiet if {
	x := d("m_starting")
	x.actions == []
	x.escalate == []
	x.symptoms == []
	mstate(x).status == "failed"
}

# ---------------------------------------------------------------------------
# Member level: escalation (no more restarts)
# ---------------------------------------------------------------------------

test_failed_restart_escalates if {
	x := d("m_restart_error")
	x.actions == []
	count(x.escalate) == 1
	e := x.escalate[0]
	e.symptom == "member_failed"
	e.detail.reason == "restart_failed"
	e.detail.member == "shop/web/w1"
	e.detail.failed_at == 990
	names(x) == ["restart_given_up"]
	mstate(x).gave_up == true
}

test_timed_out_restart_escalates_on_new_episode if {
	x := d("m_restart_timeout_new_episode")
	x.actions == []
	x.escalate[0].detail.reason == "restart_failed"
	names(x) == ["entity_failed", "restart_given_up"]
	sym(x, "entity_failed").detail.action == "escalate"
	mstate(x).failed_since == 996
}

test_failed_restart_escalated_once if {
	x := d("m_restart_error_escalated")
	x.actions == []
	x.escalate == []
	mstate(x).gave_up == true
}

test_old_restart_error_ignored if {
	x := d("m_restart_error_old")
	x.actions == []
	x.escalate == []
}

test_recurring_failure_escalates if {
	x := d("m_recurring")
	x.actions == []
	x.escalate[0].symptom == "member_failed"
	x.escalate[0].detail.reason == "recurring_failure"
	x.escalate[0].detail.previous_failure_at == 900
	x.escalate[0].detail.failure_window_s == 180
	mstate(x).gave_up == true
	mstate(x).failed_at == 1000
}

test_recurring_window_inclusive if {
	x := d("m_recurring_edge")
	x.actions == []
	x.escalate[0].detail.reason == "recurring_failure"
}

test_failure_outside_window_restarts if {
	x := d("m_not_recurring")
	is_restart(x.actions[0])
	x.escalate == []
	sym(x, "entity_failed").detail.previous_failure_at == 700
}

test_custom_failure_window if {
	x := d("m_recurring_custom_window")
	is_restart(x.actions[0])
	x.escalate == []
}

test_refail_without_recovery_is_recurring if {
	x := d("m_refail_without_recovery")
	x.actions == []
	x.escalate[0].detail.reason == "recurring_failure"
}

test_refail_while_recovering_is_recurring if {
	x := d("m_refail_while_recovering")
	x.actions == []
	x.escalate[0].detail.reason == "recurring_failure"
}

test_no_restart_after_giving_up if {
	x := d("m_gave_up_earlier")
	x.actions == []
	x.escalate[0].detail.reason == "gave_up_earlier"
}

test_no_restart_effector_escalates if {
	x := d("m_no_restart_effector")
	x.actions == []
	x.escalate[0].detail.reason == "no_restart_effector"
}

# ---------------------------------------------------------------------------
# Member level: recovery
# ---------------------------------------------------------------------------

test_recovered if {
	x := d("m_recovered")
	x.actions == []
	names(x) == ["entity_recovered"]
	s := sym(x, "entity_recovered")
	s.severity == "info"
	s.detail.failed_at == 980
	s.detail.running_for == 5
	mstate(x).status == "ok"
	mstate(x).gave_up == false
	mstate(x).recovered_at == 1000
}

test_recovered_after_waits if {
	x := d("m_recovering")
	names(x) == ["entity_recovering"]
	sym(x, "entity_recovering").detail.recovered_after == 30
	mstate(x).status == "failed"
}

test_recovered_after_elapsed if {
	x := d("m_recovered_after")
	names(x) == ["entity_recovered"]
	mstate(x).status == "ok"
}

# ---------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------

test_bad_config_uses_defaults if {
	x := d("m_bad_config")
	x.level == "member"

	# failure_window_s -5 is ignored: 180 s default, 900 is within it
	x.escalate[0].detail.reason == "recurring_failure"
	x.escalate[0].detail.failure_window_s == 180
}

test_empty_input_defined if {
	x := d("m_empty")
	x.actions == []
	x.symptoms == []
	x.escalate == []
	x.level == "member"
}

test_garbage_input_defined if {
	x := d("m_garbage")
	x.actions == []
	x.escalate == []
}

test_garbage_state_defined if {
	x := d("m_garbage_state")
	is_restart(x.actions[0])
}

test_cluster_garbage_state_defined if {
	x := d("c_garbage_state")
	replaced(x) == ["shop/web/w1"]
	not cstate(x).pending["shop/web/w2"]
}

test_deterministic if {
	# determinism: same input twice, same decision
	d("m_restart") == d("m_restart")
}

# ---------------------------------------------------------------------------
# Cluster level: replacement
# ---------------------------------------------------------------------------

test_cluster_idle if {
	x := d("c_idle")
	x.actions == []
	x.symptoms == []
	x.escalate == []
	cstate(x).seen_up == ["shop/web/w1", "shop/web/w2", "shop/web/w3", "shop/web/w4"]
}

test_escalated_member_replaced if {
	x := d("c_escalated")
	count(x.actions) == 1
	a := x.actions[0]
	a.target == "self"
	a.effector == "replace_member"
	a.args == {"id": "shop/web/w2"}
	is_string(a.reason)
	names(x) == ["member_failed"]
	sym(x, "member_failed").detail.detail == {"reason": "recurring_failure"}
	cstate(x).pending["shop/web/w2"].since == 1000
	cstate(x).failures == [1000]
	x.escalate == []
}

test_one_action_per_member if {
	x := d("c_escalated_twice")
	replaced(x) == ["shop/web/w2"]
	sym(x, "member_failed").detail.detail == {"reason": "restart_failed"}
}

test_share_limit if {
	x := d("c_share")
	replaced(x) == ["shop/web/w1", "shop/web/w2"]
	s := sym(x, "replacement_deferred")
	s.detail.members == ["shop/web/w3"]
	s.detail.limit == 2
	s.detail.in_flight == 0
	count(cstate(x).pending) == 3
}

test_share_counts_in_flight if {
	x := d("c_share_in_flight")
	replaced(x) == ["shop/web/w2"]
	sym(x, "replacement_deferred").detail.members == ["shop/web/w3"]
	sym(x, "replacement_deferred").detail.in_flight == 1
}

test_share_full if {
	x := d("c_share_full")
	x.actions == []
	sym(x, "replacement_deferred").detail.members == ["shop/web/w3"]
}

test_share_at_least_one if {
	x := d("c_one_member")
	replaced(x) == ["shop/web/w1"]
}

test_share_configured if {
	x := d("c_share_all")
	replaced(x) == ["shop/web/w1", "shop/web/w2", "shop/web/w3"]
	not sym(x, "replacement_deferred")
}

test_share_invalid_uses_default if {
	x := d("c_bad_share")
	count(x.actions) == 2
}

test_no_action_for_busy_member if {
	x := d("c_busy_member")
	x.actions == []
	x.symptoms == []
	cstate(x).pending["shop/web/w2"].since == 995
}

test_no_action_for_member_with_action_in_flight if {
	x := d("c_busy_target")
	x.actions == []
	cstate(x).pending["shop/web/w2"]
}

test_pending_member_replaced_later if {
	x := d("c_pending_retained")
	replaced(x) == ["shop/web/w3"]
	x.symptoms == []
}

test_retry_after_failed_replace if {
	x := d("c_retry_after_error")
	replaced(x) == ["shop/web/w3"]
}

test_resolved_by_replace if {
	x := d("c_resolved_by_replace")
	x.actions == []
	cstate(x).pending == {}
}

test_resolved_by_recovery if {
	x := d("c_resolved_by_recovery")
	x.actions == []
	cstate(x).pending == {}
}

test_gone_member_dropped if {
	x := d("c_gone_member")
	x.actions == []
	cstate(x).pending == {}
	cstate(x).seen_up == ["shop/web/w1"]
}

test_foreign_escalations_ignored if {
	x := d("c_foreign_escalation")
	x.actions == []
	x.symptoms == []
}

# ---------------------------------------------------------------------------
# Cluster level: on_fire detection (configurable)
# ---------------------------------------------------------------------------

test_on_fire_ignored_by_default if {
	x := d("c_on_fire_ignored")
	x.actions == []
}

test_on_fire_detected if {
	x := d("c_on_fire_detected")
	replaced(x) == ["shop/web/w1"]
	sym(x, "member_failed").detail.reason == "on_fire"
}

test_on_fire_before_failed_after if {
	x := d("c_on_fire_too_recent")
	x.actions == []
}

test_on_fire_never_up_not_replaced if {
	x := d("c_on_fire_never_up")
	x.actions == []
}

test_on_fire_up_by_event if {
	x := d("c_on_fire_up_by_event")
	replaced(x) == ["shop/web/w1"]
}

# ---------------------------------------------------------------------------
# Cluster level: give up
# ---------------------------------------------------------------------------

test_give_up_after_max_failures if {
	x := d("c_give_up")
	x.actions == []
	s := sym(x, "cluster_failing")
	s.severity == "critical"
	s.detail.failures == 5
	s.detail.members == ["shop/web/w4"]
	count(x.escalate) == 1
	x.escalate[0].symptom == "cluster_failing"
	x.escalate[0].detail.cluster == "shop/web"
	cstate(x).gave_up == true
}

test_give_up_escalated_once if {
	x := d("c_give_up_escalated")
	x.actions == []
	x.escalate == []
	"cluster_failing" in names(x)
	cstate(x).gave_up == true
}

test_give_up_window_passed if {
	x := d("c_give_up_window_passed")
	replaced(x) == ["shop/web/w4"]
	x.escalate == []
	cstate(x).gave_up == false
}

test_give_up_ignores_held_actions if {
	x := d("c_give_up_held_not_counted")
	replaced(x) == ["shop/web/w4"]
}

test_give_up_remembered_failures if {
	x := d("c_give_up_remembered")
	x.actions == []
	x.escalate[0].symptom == "cluster_failing"
	cstate(x).failures == [800, 850, 900, 950, 990, 1000]
}

test_give_up_custom_config if {
	x := d("c_give_up_custom")
	x.actions == []
	x.escalate[0].detail.max_failures == 2
	x.escalate[0].detail.give_up_window_s == 100
	cstate(x).failures == [950, 990, 1000]
}
