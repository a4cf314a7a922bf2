package autonomic.dr_test

import rego.v1

import data.autonomic.dr

# ---------------------------------------------------------------------------
# Fixtures. Every input the tests use is a value of `cases`, so a harness can
# evaluate the same inputs on OPA and on regorus and compare the decisions.
# Times are integral, exact on every engine.
# ---------------------------------------------------------------------------

all_ok := {"http": true, "db": true, "queue": true}

two_down := {"http": false, "db": false, "queue": true}

site(name, role, lag) := {
	"id": concat("/", ["shop", name]),
	"name": name,
	"type": "site",
	"config": {},
	"lifecycle": "running",
	"expected": "running",
	"lifecycle_since": 0,
	"up": true,
	"ready": true,
	"not_up_reasons": {},
	"sensors": {
		"role": role,
		"reachable": true,
		"fenced": false,
		"health_signals": all_ok,
		"replication_lag_bytes": lag_bytes_of(role, lag),
		"replication_lag_s": lag_of(role, lag),
		"promoted_at": null,
	},
	"sensor_times": {},
	"effectors": ["fence", "promote", "rejoin_as_standby"],
}

lag_of(role, lag) := lag if role == "standby"

lag_of(role, _) := null if role != "standby"

lag_bytes_of(role, lag) := lag * 100 if role == "standby"

lag_bytes_of(role, _) := null if role != "standby"

ws(s, sensors) := object.union(s, {"sensors": sensors})

eu := site("eu", "primary", 0)

us := site("us", "standby", 0)

ap := site("ap", "standby", 2)

eu_down := ws(eu, {"health_signals": two_down})

eu_down_unreachable := ws(eu, {"health_signals": two_down, "reachable": false})

eu_fenced_down := ws(eu, {"health_signals": two_down, "role": "fenced", "fenced": true})

base := {
	"now": 1000,
	"entity": {
		"id": "shop",
		"name": "shop",
		"type": "fabric",
		"config": {},
		"lifecycle": "running",
		"expected": "running",
		"lifecycle_since": 0,
		"up": true,
		"ready": true,
		"not_up_reasons": {},
		"sensors": {"primary_site": "shop/eu"},
		"sensor_times": {},
		"effectors": ["repoint", "start", "stop"],
	},
	"children": [ap, eu, us],
	"knowledge": {"actions": [], "remembered": {}, "history": {}, "cooldowns": {}},
	"events": [],
}

fab(over) := object.union(base, over)

cfg(c) := {"entity": {"config": {"dr": c}}}

down_at(t) := {"autonomic.dr.down_since": {"shop/eu": t}}

# primary eu down since 960: 40 s > grace 30
failing(children, extra) := object.union(
	fab({
		"children": children,
		"knowledge": {"remembered": down_at(960)},
	}),
	extra,
)

act(id, effector, target, args, status, requested, finished) := {
	"id": id,
	"round": 1,
	"target": target,
	"effector": effector,
	"args": args,
	"reason": "r",
	"status": status,
	"requested": requested,
	"started": requested,
	"finished": finished,
	"duration": null,
	"error": null,
}

plan(kind, from, to, planned_at, rto_from, attempt) := {
	"kind": kind,
	"from": from,
	"to": to,
	"planned_at": planned_at,
	"rto_from": rto_from,
	"attempt": attempt,
	"steps": ["fence", "promote", "repoint"],
	"expected_data_loss": {"seconds": 0, "bytes": 0},
	"status": "in_progress",
	"recovered_at": null,
	"rto_s": null,
}

# after a completed failover eu -> us
us_primary := site("us", "primary", 0)

after_failover := {
	"entity": {"sensors": {"primary_site": "shop/us"}},
	"knowledge": {"remembered": {"autonomic.dr.home": "shop/eu"}},
}

eu_back_standby := site("eu", "standby", 0)

cases := {
	"steady": fab({}),
	"first_down": fab({"children": [ap, eu_down, us]}),
	"within_grace": fab({
		"children": [ap, eu_down, us],
		"knowledge": {"remembered": down_at(980)},
	}),
	"failover": failing([ap, eu_down, us], {}),
	"failover_grace_zero": fab({
		"children": [ap, eu_down, us],
		"entity": {"config": {"dr": {"grace_s": 0}}},
	}),
	"failover_grace_custom": failing([ap, eu_down, us], cfg({"grace_s": 60})),
	"standby_tie_by_id": failing(
		[ws(ap, {"replication_lag_s": 1, "replication_lag_bytes": 5}), eu_down, ws(us, {"replication_lag_s": 1, "replication_lag_bytes": 5})],
		cfg({"rpo_s": 5}),
	),
	"standby_tie_by_bytes": failing(
		[ws(ap, {"replication_lag_s": 1, "replication_lag_bytes": 9}), eu_down, ws(us, {"replication_lag_s": 1, "replication_lag_bytes": 5})],
		cfg({"rpo_s": 5}),
	),
	"standby_unknown_lag_last": failing(
		[ws(ap, {"replication_lag_s": 3}), eu_down, ws(us, {"replication_lag_s": null})],
		cfg({"rpo_s": 5}),
	),
	"standby_skip_unhealthy": failing(
		[ws(ap, {"replication_lag_s": 0}), eu_down, ws(us, {"health_signals": two_down})],
		{},
	),
	"quorum_half_not_down": failing([ap, ws(eu, {"health_signals": {"http": false, "db": true, "queue": false, "disk": true}}), us], {}),
	"quorum_custom": failing([ap, ws(eu, {"health_signals": {"http": false, "db": true, "queue": true}}), us], cfg({"quorum": 0.3})),
	"quorum_all_failing": failing([ap, ws(eu, {"health_signals": {"http": false, "db": false, "queue": false}}), us], cfg({"quorum": 1})),
	"null_signal_failing": failing([ap, ws(eu, {"health_signals": {"http": null, "db": null, "queue": true}}), us], {}),
	"health_unknown": fab({"children": [ap, ws(eu, {"health_signals": null}), us]}),
	"fence_unreachable_stop": failing([ap, eu_down_unreachable, us], {}),
	"fence_unreachable_continue": failing([ap, eu_down_unreachable, us], cfg({"continue_if_unfenceable": true})),
	"fence_unreachable_escalated": failing([ap, eu_down_unreachable, us], {"knowledge": {"remembered": {"autonomic.dr.escalated": [{"symptom": "fence_unreachable", "site": "shop/eu", "since": 960}]}}}),
	"fence_reachable_null": failing([ap, ws(eu_down, {"reachable": null}), us], {}),
	"already_fenced": failing([ap, eu_fenced_down, us], {}),
	"rpo_violated": failing([ws(ap, {"replication_lag_s": 8}), eu_down, ws(us, {"replication_lag_s": 5, "replication_lag_bytes": 500})], {}),
	"rpo_forced": failing([ws(ap, {"replication_lag_s": 8}), eu_down, ws(us, {"replication_lag_s": 5, "replication_lag_bytes": 500})], cfg({"force": true})),
	"rpo_within": failing([ws(ap, {"replication_lag_s": 8}), eu_down, ws(us, {"replication_lag_s": 5, "replication_lag_bytes": 500})], cfg({"rpo_s": 10})),
	"rpo_bytes_violated": failing([ws(ap, {"replication_lag_s": 8}), eu_down, ws(us, {"replication_lag_s": 5, "replication_lag_bytes": 500})], cfg({"rpo_s": 10, "rpo_bytes": 100})),
	"rpo_bytes_unknown": failing([ap, eu_down, ws(us, {"replication_lag_bytes": null})], cfg({"rpo_bytes": 100})),
	"rpo_bytes_within": failing([ap, eu_down, us], cfg({"rpo_bytes": 100})),
	"rpo_lag_unknown": failing([eu_down, ws(us, {"replication_lag_s": null})], {}),
	"rpo_lag_unknown_forced": failing([eu_down, ws(us, {"replication_lag_s": null})], cfg({"force": true})),
	"no_standby": failing([ws(ap, {"reachable": false}), eu_down, ws(us, {"fenced": true})], {}),
	"no_standby_only_primary": failing([eu_down], {}),
	"busy": failing([ap, eu_down, us], {"knowledge": {"actions": [act("a1", "fence", "shop/eu", {}, "running", 990, null)]}}),
	"busy_rejoin": fab({
		"children": [ap, ws(eu, {"role": "fenced", "fenced": true}), us_primary],
		"entity": {"sensors": {"primary_site": "shop/us"}},
		"knowledge": {"actions": [act("a1", "rejoin_as_standby", "shop/eu", {"primary": "shop/us"}, "pending", 995, null)]},
	}),
	"busy_other_effector": failing([ap, eu_down, us], {"knowledge": {"actions": [act("a1", "restart", "shop/eu", {}, "running", 990, null)]}}),
	"split_brain": fab({"children": [ap, eu, ws(us, {"role": "primary"})]}),
	"split_brain_unreachable": fab({"children": [ap, eu, ws(us, {"role": "primary", "reachable": false})]}),
	"split_brain_ambiguous": fab({
		"children": [ap, eu, ws(us, {"role": "primary"})],
		"entity": {"sensors": {"primary_site": null}},
	}),
	"split_brain_primary_down": fab({"children": [ap, eu_down, ws(us, {"role": "primary"})]}),
	"split_brain_fenced_ok": fab({"children": [ap, eu, ws(us, {"role": "primary", "fenced": true})]}),
	"split_brain_busy": fab({
		"children": [ap, eu, ws(us, {"role": "primary"})],
		"knowledge": {"actions": [act("a1", "fence", "shop/us", {}, "pending", 999, null)]},
	}),
	"completed_by_sensor": fab({
		"children": [ap, eu_fenced_down, us_primary],
		"entity": {"sensors": {"primary_site": "shop/us"}},
		"knowledge": {"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 1)}},
	}),
	"completed_by_action": failing([ap, eu_fenced_down, us_primary], {"knowledge": {
		"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 1)},
		"actions": [
			act("a1", "fence", "shop/eu", {}, "ok", 990, 992),
			act("a2", "promote", "shop/us", {}, "ok", 990, 993),
			act("a3", "repoint", "shop", {"site": "shop/us"}, "ok", 990, 995),
		],
	}}),
	"stale_repoint_not_completion": failing([ap, eu_fenced_down, us], {"knowledge": {
		"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 1)},
		"actions": [act("a0", "repoint", "shop", {"site": "shop/us"}, "ok", 500, 501)],
	}}),
	"rto_reported_later": fab({
		"children": [ap, eu_fenced_down, us_primary],
		"entity": {"sensors": {"primary_site": "shop/us"}},
		"knowledge": {"remembered": {"autonomic.dr.plan": object.union(plan("failover", "shop/eu", "shop/us", 990, 960, 1), {"status": "completed", "rto_s": 35, "recovered_at": 995})}},
	}),
	"retry_after_failed_promote": failing([ap, eu_fenced_down, us], {"knowledge": {
		"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 1)},
		"actions": [
			act("a1", "fence", "shop/eu", {}, "ok", 990, 992),
			act("a2", "promote", "shop/us", {}, "error", 990, 993),
			act("a3", "repoint", "shop", {"site": "shop/us"}, "skipped", 990, null),
		],
	}}),
	"attempts_exhausted": failing([ap, eu_fenced_down, us], {"knowledge": {"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 3)}}}),
	"attempts_custom": failing([ap, eu_fenced_down, us], object.union(
		cfg({"max_attempts": 5}),
		{"knowledge": {"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 3)}}},
	)),
	"attempts_other_episode": failing([ap, eu_fenced_down, us], {"knowledge": {"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 500, 400, 3)}}}),
	"takeover_after_failed_repoint": failing([ap, eu_fenced_down, us_primary], {"knowledge": {
		"remembered": {"autonomic.dr.plan": plan("failover", "shop/eu", "shop/us", 990, 960, 1)},
		"actions": [act("a3", "repoint", "shop", {"site": "shop/us"}, "error", 990, 995)],
	}}),
	"effector_missing": failing([ap, eu_down, object.union(us, {"effectors": ["fence"]})], {}),
	"fabric_effector_missing": failing([ap, eu_down, us], {"entity": {"effectors": ["start", "stop"]}}),
	"rejoin": fab(object.union(after_failover, {"children": [ap, ws(eu, {"role": "fenced", "fenced": true}), us_primary]})),
	"rejoin_unreachable": fab(object.union(after_failover, {"children": [ap, ws(eu, {"role": "fenced", "fenced": true, "reachable": false}), us_primary]})),
	"rejoin_site_down": fab(object.union(after_failover, {"children": [ap, ws(eu, {"role": "fenced", "fenced": true, "health_signals": two_down}), us_primary]})),
	"rejoin_primary_down": fab(object.union(after_failover, {
		"children": [ap, ws(eu, {"role": "fenced", "fenced": true}), ws(us_primary, {"health_signals": two_down})],
		"knowledge": {"remembered": {"autonomic.dr.down_since": {"shop/us": 995}}},
	})),
	"failback_off": fab(object.union(after_failover, {
		"children": [ap, eu_back_standby, us_primary],
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900}}},
	})),
	"failback_on": fab(object.union(after_failover, {
		"children": [ap, eu_back_standby, us_primary],
		"entity": {"config": {"dr": {"failback": true}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900}}},
	})),
	"failback_grace": fab(object.union(after_failover, {
		"children": [ap, eu_back_standby, us_primary],
		"entity": {"config": {"dr": {"failback": true}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 990}}},
	})),
	"failback_rpo": fab(object.union(after_failover, {
		"children": [ap, ws(eu_back_standby, {"replication_lag_s": 3}), us_primary],
		"entity": {"config": {"dr": {"failback": true}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900}}},
	})),
	"failback_rpo_forced": fab(object.union(after_failover, {
		"children": [ap, ws(eu_back_standby, {"replication_lag_s": 3}), us_primary],
		"entity": {"config": {"dr": {"failback": true, "force": true}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900}}},
	})),
	"failback_unreachable": fab(object.union(after_failover, {
		"children": [ap, eu_back_standby, ws(us_primary, {"reachable": false})],
		"entity": {"config": {"dr": {"failback": true, "continue_if_unfenceable": true}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900}}},
	})),
	"failback_preferred": fab(object.union(after_failover, {
		"children": [ws(ap, {"replication_lag_s": 0, "replication_lag_bytes": 0}), eu_back_standby, us_primary],
		"entity": {"config": {"dr": {"failback": true, "preferred_primary": "shop/ap"}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900, "shop/ap": 900}}},
	})),
	"failback_exhausted": fab(object.union(after_failover, {
		"children": [ap, eu_back_standby, us_primary],
		"entity": {"config": {"dr": {"failback": true}}},
		"knowledge": {"remembered": {
			"autonomic.dr.healthy_since": {"shop/eu": 900},
			"autonomic.dr.plan": plan("failback", "shop/us", "shop/eu", 980, 980, 3),
		}},
	})),
	"failback_effector_missing": fab(object.union(after_failover, {
		"children": [ap, object.union(eu_back_standby, {"effectors": ["fence"]}), us_primary],
		"entity": {"config": {"dr": {"failback": true}}},
		"knowledge": {"remembered": {"autonomic.dr.healthy_since": {"shop/eu": 900}}},
	})),
	"failback_completed": fab({
		"children": [ap, site("eu", "primary", 0), ws(us, {"role": "fenced", "fenced": true})],
		"knowledge": {"remembered": {"autonomic.dr.home": "shop/eu", "autonomic.dr.plan": plan("failback", "shop/us", "shop/eu", 990, 990, 1)}},
	}),
	"primary_unknown": fab({"entity": {"sensors": {"primary_site": "shop/mars"}}}),
	"primary_derived": fab({"entity": {"sensors": {"primary_site": null}}}),
	"no_primary": fab({
		"entity": {"sensors": {"primary_site": null}},
		"children": [ap, us],
	}),
	"bad_config": failing([ap, eu_down, us], cfg({"grace_s": "soon", "quorum": 5, "rpo_s": -1, "force": "yes", "failback": 1})),
	"empty": {},
	"garbage": {
		"now": "x",
		"entity": {"id": 1, "config": {"dr": []}, "sensors": "s", "effectors": {}},
		"children": [1, "a", {"id": 3}, {"id": "shop/x", "sensors": {"health_signals": "bad", "role": 7}}],
		"knowledge": {"actions": {}, "remembered": {"autonomic.dr.plan": "p", "autonomic.dr.escalated": "e", "autonomic.dr.down_since": []}},
	},
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

d(name) := x if {
	x := dr.decision with input as cases[name]
}

names(dec) := [s.name | some s in dec.symptoms]

sym(dec, n) := s if {
	some s in dec.symptoms
	s.name == n
}

steps(dec) := [[a.effector, a.target] | some a in dec.actions]

esc_names(dec) := [e.symptom | some e in dec.escalate]

site_in(name, id) := s if {
	some s in cases[name].children
	s.id == id
}

# a promote at index i is safe if the primary it replaces is already fenced,
# is fenced by an earlier action of the same decision, or cannot be reached
# and continue_if_unfenceable is set
safe_promote(_, x, i) if {
	old := x.primary_site
	some j, f in x.actions
	j < i
	f.effector == "fence"
	f.target == old
}

safe_promote(name, x, _) if {
	old := site_in(name, x.primary_site)
	old.sensors.fenced == true
}

safe_promote(name, x, _) if {
	old := site_in(name, x.primary_site)
	old.sensors.role == "fenced"
}

safe_promote(name, x, _) if {
	old := site_in(name, x.primary_site)
	old.sensors.reachable != true
	cases[name].entity.config.dr.continue_if_unfenceable == true
}

unsafe(name) if {
	x := d(name)
	some i, a in x.actions
	a.effector == "promote"
	not safe_promote(name, x, i)
}

unsafe(name) if {
	x := d(name)
	count([a | some a in x.actions; a.effector == "promote"]) > 1
}

# ---------------------------------------------------------------------------
# Never two primaries (over every fixture)
# ---------------------------------------------------------------------------

test_never_two_primaries_all_cases if {
	every name, _ in cases {
		not unsafe(name)
	}
}

test_fence_is_first_when_primary_reachable if {
	x := d("failover")
	x.actions[0].effector == "fence"
	x.actions[0].target == "shop/eu"
}

test_no_promote_while_primary_reachable_unfenced if {
	# the reachable, unfenced primary is never left out of the plan
	every name in ["failover", "failover_grace_zero", "rpo_forced", "rpo_within", "standby_tie_by_id"] {
		d(name).actions[0] == {
			"target": "shop/eu",
			"effector": "fence",
			"args": {},
			"reason": d(name).actions[0].reason,
		}
	}
}

# ---------------------------------------------------------------------------
# Steady state, detection, grace
# ---------------------------------------------------------------------------

test_steady if {
	x := d("steady")
	x.mode == "steady"
	x.primary_site == "shop/eu"
	x.actions == []
	x.symptoms == []
	x.escalate == []
	x.expected_data_loss == null
	x.rto_s == null
	x.failover == null
	x.remember["autonomic.dr.home"] == "shop/eu"
	x.remember["autonomic.dr.healthy_since"] == {"shop/ap": 1000, "shop/us": 1000}
	x.remember["autonomic.dr.down_since"] == {}
}

test_first_down_remembered if {
	x := d("first_down")
	x.actions == []
	x.remember["autonomic.dr.down_since"] == {"shop/eu": 1000}
	s := sym(x, "primary_down")
	s.severity == "warning"
	s.detail.failing_signals == ["db", "http"]
	s.detail.down_for == 0
}

test_within_grace_no_action if {
	x := d("within_grace")
	x.mode == "steady"
	x.actions == []
	x.remember["autonomic.dr.down_since"] == {"shop/eu": 980}
	sym(x, "primary_down").detail.down_for == 20
}

test_grace_zero_immediate if {
	x := d("failover_grace_zero")
	x.mode == "failover"
	count(x.actions) == 3
}

test_grace_custom if {
	x := d("failover_grace_custom")
	x.actions == []
	sym(x, "primary_down").detail.grace_s == 60
}

test_quorum_half_is_not_down if {
	x := d("quorum_half_not_down")
	x.actions == []
	x.remember["autonomic.dr.down_since"] == {}
	not sym(x, "primary_down")
}

test_quorum_custom if {
	x := d("quorum_custom")
	x.mode == "failover"
	sym(x, "primary_down").detail.quorum == 0.3
}

test_quorum_one_all_failing if {
	x := d("quorum_all_failing")
	x.mode == "failover"
}

test_null_signal_counts_as_failing if {
	x := d("null_signal_failing")
	x.mode == "failover"
}

test_health_unknown if {
	x := d("health_unknown")
	x.actions == []
	sym(x, "health_unknown").detail.site == "shop/eu"
}

# ---------------------------------------------------------------------------
# Failover plan
# ---------------------------------------------------------------------------

test_failover_plan if {
	x := d("failover")
	x.mode == "failover"
	steps(x) == [["fence", "shop/eu"], ["promote", "shop/us"], ["repoint", "self"]]
	x.actions[2].args == {"site": "shop/us"}
	x.actions[0].args == {}
	x.actions[1].args == {}
	x.expected_data_loss == {"seconds": 0, "bytes": 0}
	x.escalate == []
	p := x.remember["autonomic.dr.plan"]
	p.kind == "failover"
	p.from == "shop/eu"
	p.to == "shop/us"
	p.rto_from == 960
	p.attempt == 1
	p.status == "in_progress"
	p.steps == ["fence", "promote", "repoint"]
	x.failover == p
	s := sym(x, "failover_planned")
	s.detail.down_for == 40
	sym(x, "primary_down").severity == "critical"
}

test_standby_least_lag if {
	# us has lag 0, ap lag 2
	d("failover").actions[1].target == "shop/us"
}

test_standby_tie_by_id if d("standby_tie_by_id").actions[1].target == "shop/ap"

test_standby_tie_by_bytes if d("standby_tie_by_bytes").actions[1].target == "shop/us"

test_standby_unknown_lag_last if d("standby_unknown_lag_last").actions[1].target == "shop/ap"

test_standby_skips_unhealthy if d("standby_skip_unhealthy").actions[1].target == "shop/ap"

test_no_healthy_standby if {
	x := d("no_standby")
	x.actions == []
	esc_names(x) == ["no_healthy_standby"]
	sym(x, "no_healthy_standby").severity == "critical"
}

test_no_standby_at_all if {
	x := d("no_standby_only_primary")
	x.actions == []
	esc_names(x) == ["no_healthy_standby"]
}

# ---------------------------------------------------------------------------
# Fencing an unreachable primary
# ---------------------------------------------------------------------------

test_fence_unreachable_stops if {
	x := d("fence_unreachable_stop")
	x.actions == []
	esc_names(x) == ["fence_unreachable"]
	s := sym(x, "fence_unreachable")
	s.severity == "critical"
	s.detail.site == "shop/eu"
	x.remember["autonomic.dr.escalated"] == [{"symptom": "fence_unreachable", "site": "shop/eu", "since": 960}]
}

test_fence_unreachable_escalated_once if {
	x := d("fence_unreachable_escalated")
	x.actions == []
	x.escalate == []
	sym(x, "fence_unreachable")
	count(x.remember["autonomic.dr.escalated"]) == 1
}

test_fence_unreachable_continue if {
	x := d("fence_unreachable_continue")
	steps(x) == [["promote", "shop/us"], ["repoint", "self"]]
	x.escalate == []
	sym(x, "fence_unreachable").severity == "warning"
}

test_reachable_unknown_is_unreachable if {
	x := d("fence_reachable_null")
	x.actions == []
	esc_names(x) == ["fence_unreachable"]
}

test_already_fenced_no_fence_action if {
	x := d("already_fenced")
	steps(x) == [["promote", "shop/us"], ["repoint", "self"]]
}

# ---------------------------------------------------------------------------
# Data-loss bound (RPO)
# ---------------------------------------------------------------------------

test_rpo_violated if {
	x := d("rpo_violated")
	x.actions == []
	esc_names(x) == ["rpo_violated"]
	s := sym(x, "rpo_violated")
	s.detail.lag_s == 5
	s.detail.rpo_s == 0
	s.detail.standby == "shop/us"
	x.expected_data_loss == {"seconds": 5, "bytes": 500}
	not x.remember["autonomic.dr.plan"].kind
}

test_rpo_forced if {
	x := d("rpo_forced")
	steps(x) == [["fence", "shop/eu"], ["promote", "shop/us"], ["repoint", "self"]]
	sym(x, "rpo_overridden").detail.lag_s == 5
	x.expected_data_loss == {"seconds": 5, "bytes": 500}
	x.remember["autonomic.dr.plan"].expected_data_loss == {"seconds": 5, "bytes": 500}
}

test_rpo_within if {
	x := d("rpo_within")
	count(x.actions) == 3
	not sym(x, "rpo_overridden")
}

test_rpo_bytes_violated if {
	x := d("rpo_bytes_violated")
	x.actions == []
	sym(x, "rpo_violated").detail.rpo_bytes == 100
}

test_rpo_bytes_unknown_violates if {
	x := d("rpo_bytes_unknown")
	x.actions == []
	esc_names(x) == ["rpo_violated"]
}

test_rpo_bytes_within if count(d("rpo_bytes_within").actions) == 3

test_rpo_unknown_lag_violates if {
	x := d("rpo_lag_unknown")
	x.actions == []
	x.expected_data_loss == {"seconds": null, "bytes": 0}
}

test_rpo_unknown_lag_forced if count(d("rpo_lag_unknown_forced").actions) == 3

# ---------------------------------------------------------------------------
# No duplicate plans
# ---------------------------------------------------------------------------

test_busy_plans_nothing if {
	x := d("busy")
	x.mode == "busy"
	x.actions == []
	x.escalate == []
	sym(x, "dr_in_progress").detail.actions == [{"target": "shop/eu", "effector": "fence", "status": "running"}]
	"primary_down" in names(x)
}

test_busy_rejoin_plans_nothing if {
	x := d("busy_rejoin")
	x.actions == []
}

test_other_effector_not_busy if d("busy_other_effector").mode == "failover"

# ---------------------------------------------------------------------------
# Split brain
# ---------------------------------------------------------------------------

test_split_brain_fences_non_primary if {
	x := d("split_brain")
	x.mode == "split_brain"
	steps(x) == [["fence", "shop/us"]]
	s := sym(x, "split_brain")
	s.severity == "critical"
	s.detail.sites == ["shop/eu", "shop/us"]
	s.detail.keep == "shop/eu"
	x.escalate == []
}

test_split_brain_unreachable if {
	x := d("split_brain_unreachable")
	x.actions == []
	esc_names(x) == ["split_brain"]
	sym(x, "fence_unreachable").detail.context == "split_brain"
}

test_split_brain_ambiguous if {
	x := d("split_brain_ambiguous")
	x.actions == []
	esc_names(x) == ["split_brain"]
	sym(x, "split_brain").detail.keep == null
}

test_split_brain_primary_down_keeps_healthy if {
	x := d("split_brain_primary_down")
	steps(x) == [["fence", "shop/eu"]]
}

test_fenced_primary_is_not_split_brain if {
	x := d("split_brain_fenced_ok")
	x.mode == "steady"
	not sym(x, "split_brain")
}

test_split_brain_reported_while_busy if {
	x := d("split_brain_busy")
	x.actions == []
	sym(x, "split_brain")
}

# ---------------------------------------------------------------------------
# Completion and RTO
# ---------------------------------------------------------------------------

test_rto_by_primary_site if {
	x := d("completed_by_sensor")
	x.rto_s == 40
	s := sym(x, "failover_completed")
	s.detail.rto_s == 40
	s.detail.to == "shop/us"
	x.remember["autonomic.dr.plan"].status == "completed"
	x.remember["autonomic.dr.plan"].rto_s == 40
	x.remember["autonomic.dr.plan"].recovered_at == 1000
}

test_rto_by_repoint_action if {
	x := d("completed_by_action")
	x.rto_s == 35
	x.remember["autonomic.dr.plan"].recovered_at == 995
	x.remember["autonomic.dr.plan"].status == "completed"

	# the fabric's primary_site has not followed yet: no second plan
	x.actions == []
	sym(x, "primary_site_stale").detail.expected == "shop/us"
}

test_stale_repoint_is_not_completion if {
	x := d("stale_repoint_not_completion")
	x.rto_s == null
	not sym(x, "failover_completed")
}

test_rto_reported_later if {
	x := d("rto_reported_later")
	x.rto_s == 35
	not sym(x, "failover_completed")
	x.failover.status == "completed"
}

test_failback_rto if {
	x := d("failback_completed")
	x.rto_s == 10
	sym(x, "failover_completed").detail.kind == "failback"
}

# ---------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------

test_retry_after_failed_promote if {
	x := d("retry_after_failed_promote")
	steps(x) == [["promote", "shop/us"], ["repoint", "self"]]
	x.remember["autonomic.dr.plan"].attempt == 2
}

test_attempts_exhausted if {
	x := d("attempts_exhausted")
	x.actions == []
	esc_names(x) == ["failover_failed"]
	sym(x, "failover_failed").detail.attempt == 4
}

test_attempts_custom if {
	x := d("attempts_custom")
	count(x.actions) == 2
	x.remember["autonomic.dr.plan"].attempt == 4
}

test_attempts_reset_on_new_episode if d("attempts_other_episode").remember["autonomic.dr.plan"].attempt == 1

test_takeover_without_second_promote if {
	x := d("takeover_after_failed_repoint")
	steps(x) == [["repoint", "self"]]
	x.expected_data_loss == {"seconds": 0, "bytes": 0}
	x.remember["autonomic.dr.plan"].attempt == 2
}

test_effector_missing if {
	x := d("effector_missing")
	x.actions == []
	esc_names(x) == ["dr_effector_missing"]
	sym(x, "dr_effector_missing").detail.missing == [{"target": "shop/us", "effector": "promote"}]
}

test_fabric_effector_missing if {
	x := d("fabric_effector_missing")
	x.actions == []
	sym(x, "dr_effector_missing").detail.missing == [{"target": "shop", "effector": "repoint"}]
}

# ---------------------------------------------------------------------------
# Rejoin and failback
# ---------------------------------------------------------------------------

test_rejoin_as_standby if {
	x := d("rejoin")
	x.mode == "rejoin"
	x.primary_site == "shop/us"
	steps(x) == [["rejoin_as_standby", "shop/eu"]]
	x.actions[0].args == {"primary": "shop/us"}
	sym(x, "site_rejoining").detail.sites == ["shop/eu"]
}

test_no_rejoin_while_unreachable if {
	x := d("rejoin_unreachable")
	x.actions == []
}

test_no_rejoin_while_site_down if {
	x := d("rejoin_site_down")
	x.actions == []
	x.mode == "steady"
}

test_no_rejoin_to_failing_primary if {
	x := d("rejoin_primary_down")
	x.actions == []
}

test_failback_only_when_configured if {
	x := d("failback_off")
	x.mode == "steady"
	x.actions == []
	x.symptoms == []
}

test_failback_when_configured if {
	x := d("failback_on")
	x.mode == "failback"
	steps(x) == [["fence", "shop/us"], ["promote", "shop/eu"], ["repoint", "self"]]
	x.actions[2].args == {"site": "shop/eu"}
	x.expected_data_loss == {"seconds": 0, "bytes": 0}
	p := x.remember["autonomic.dr.plan"]
	p.kind == "failback"
	p.from == "shop/us"
	p.to == "shop/eu"
	p.rto_from == 1000
	sym(x, "failback_planned")
}

test_failback_waits_for_grace if {
	x := d("failback_grace")
	x.actions == []
	sym(x, "failback_waiting").detail.healthy_for == 10
}

test_failback_waits_for_rpo if {
	x := d("failback_rpo")
	x.actions == []
	x.escalate == []
	s := sym(x, "rpo_violated")
	s.severity == "info"
	s.detail.context == "failback"
}

test_failback_rpo_forced if count(d("failback_rpo_forced").actions) == 3

test_failback_never_without_fence if {
	x := d("failback_unreachable")
	x.actions == []
	sym(x, "fence_unreachable").detail.context == "failback"
}

test_failback_preferred_primary if {
	x := d("failback_preferred")
	steps(x) == [["fence", "shop/us"], ["promote", "shop/ap"], ["repoint", "self"]]
	x.remember["autonomic.dr.home"] == "shop/eu"
}

test_failback_exhausted if {
	x := d("failback_exhausted")
	x.actions == []
	esc_names(x) == ["failback_failed"]
}

# ---------------------------------------------------------------------------
# Primary identification and robustness
# ---------------------------------------------------------------------------

test_primary_unknown if {
	x := d("primary_unknown")
	x.primary_site == null
	x.actions == []
	sym(x, "primary_unknown").detail.primary_site == "shop/mars"
}

test_primary_derived_from_role if {
	x := d("primary_derived")
	x.primary_site == "shop/eu"
	x.symptoms == []
}

test_no_primary if {
	x := d("no_primary")
	x.primary_site == null
	sym(x, "primary_unknown")
	x.remember["autonomic.dr.home"] == null
}

test_bad_config_defaults if {
	x := d("bad_config")

	# grace 30, quorum 0.5, rpo 0, no force: the default plan
	count(x.actions) == 3
	sym(x, "primary_down").detail.quorum == 0.5
}

test_empty_input if {
	x := d("empty")
	x.mode == "steady"
	x.actions == []
	x.escalate == []
	is_array(x.symptoms)
}

test_garbage_input if {
	x := d("garbage")
	x.actions == []
	x.escalate == []
}

test_deterministic if d("failover") == d("failover")

test_failback_effector_missing if {
	x := d("failback_effector_missing")
	x.actions == []
	esc_names(x) == ["dr_effector_missing"]
	sym(x, "dr_effector_missing").detail.home == "shop/eu"
}
