# Tests for autonomic.authz: reading is open, everything else needs a grant.
package autonomic.authz_test

import rego.v1

import data.autonomic.authz

_read := {"subject": "bob", "action": "read", "resource": {"route": "list_entities", "path": "/v1/entities"}}

_invoke(subject, entity, effector) := {
	"subject": subject,
	"action": "invoke",
	"resource": {"entity": entity, "type": "web-cluster", "effector": effector, "args": {"replicas": 3}},
}

_set_mode(subject, entity, mode) := {
	"subject": subject,
	"action": "set_mode",
	"resource": {"entity": entity, "type": "web-cluster", "mode": mode, "from": "enforce"},
}

_approve := {"subject": "alice", "action": "approve", "resource": {"action": "A000000007", "entity": "shop/web"}}

_alice_web := {
	"subject": "alice",
	"actions": ["invoke", "set_mode"],
	"entities": ["shop/web", "shop/web/**"],
	"effectors": ["resize", "restart"],
}

# ---------------------------------------------------------------- defaults

test_every_subject_may_read if {
	authz.allow with input as _read
}

test_invoke_is_denied_by_default if {
	not authz.allow with input as _invoke("alice", "shop/web", "resize")
}

test_set_mode_is_denied_by_default if {
	not authz.allow with input as _set_mode("alice", "shop/web", "paused")
}

test_approve_is_denied_by_default if {
	not authz.allow with input as _approve
}

test_unknown_action_is_denied if {
	not authz.allow with input as {"subject": "alice", "action": "delete", "resource": {}}
}

test_denial_says_who_what_and_where if {
	reasons := authz.reasons with input as _invoke("alice", "shop/web", "resize")
	reasons == {`subject "alice" may not invoke shop/web.resize: no grant in package autonomic.authz allows it`}
}

test_no_reasons_when_allowed if {
	count(authz.reasons) == 0 with input as _read
}

test_malformed_input_denies_without_error if {
	not authz.allow with input as {"subject": 7, "action": ["invoke"], "resource": "shop"}
	count(authz.reasons) == 1 with input as {"subject": 7, "action": ["invoke"], "resource": "shop"}
}

# ---------------------------------------------------------------- grants

test_grant_allows_its_subject_effectors_and_entities if {
	authz.allow with input as _invoke("alice", "shop/web", "resize") with authz.grants as {_alice_web}
	authz.allow with input as _invoke("alice", "shop/web/m3", "restart") with authz.grants as {_alice_web}
}

test_grant_does_not_reach_other_subjects if {
	not authz.allow with input as _invoke("bob", "shop/web", "resize") with authz.grants as {_alice_web}
}

test_grant_does_not_reach_other_effectors if {
	not authz.allow with input as _invoke("alice", "shop/web", "stop") with authz.grants as {_alice_web}
}

test_grant_does_not_reach_other_entities if {
	not authz.allow with input as _invoke("alice", "shop/db", "resize") with authz.grants as {_alice_web}
	not authz.allow with input as _invoke("alice", "shop/website", "resize") with authz.grants as {_alice_web}
	not authz.allow with input as _invoke("alice", "shop", "resize") with authz.grants as {_alice_web}
}

test_grant_does_not_reach_other_actions if {
	not authz.allow with input as _approve with authz.grants as {_alice_web}
}

test_grant_without_effectors_allows_every_effector if {
	g := {"subject": "ops", "actions": ["invoke"]}
	authz.allow with input as _invoke("ops", "anything/at/all", "stop") with authz.grants as {g}
}

test_star_subject_and_subject_lists if {
	everyone := {"subject": "*", "actions": ["set_mode"], "modes": ["dry-run"]}
	authz.allow with input as _set_mode("zoe", "shop/web", "dry-run") with authz.grants as {everyone}
	pair := {"subject": ["ann", "ben"], "actions": ["invoke"]}
	authz.allow with input as _invoke("ben", "shop", "restart") with authz.grants as {pair}
	not authz.allow with input as _invoke("cy", "shop", "restart") with authz.grants as {pair}
}

test_modes_limit_set_mode if {
	g := {"subject": "alice", "actions": ["set_mode"], "modes": ["paused", "enforce"]}
	authz.allow with input as _set_mode("alice", "shop/web", "paused") with authz.grants as {g}
	not authz.allow with input as _set_mode("alice", "shop/web", "dry-run") with authz.grants as {g}
}

test_malformed_grants_allow_nothing if {
	bad := {"not a grant", {"subject": "alice", "actions": "invoke-all"}, {"actions": ["invoke"]}}
	not authz.allow with input as _invoke("alice", "shop/web", "resize") with authz.grants as bad
}

test_restricted_reads_need_a_grant if {
	not authz.allow with input as _read with authz.restrict_reads as true
	readers := {"subject": "bob", "actions": ["read"]}
	authz.allow with input as _read with authz.restrict_reads as true with authz.grants as {readers}
}
