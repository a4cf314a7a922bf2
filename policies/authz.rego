# Authorization of the supervisor's HTTP API (autonomic.authz).
#
# The API asks `data.autonomic.authz.allow` for every authenticated request:
#
#   input.subject   the name of the caller's token ("alice", "ci")
#   input.action    "read" | "invoke" | "set_mode" | "approve"
#   input.resource  invoke:   {"entity", "type", "effector", "args"}
#                   set_mode: {"entity", "type", "mode", "from"}
#                   approve:  {"action", "entity", "effector"}
#                   read:     {"route", "path"} and "entity" when the path names one
#
# Only `true` allows. By default every authenticated subject may read and
# nothing else is allowed. Operators grant more in their own files of this
# package (listed under the blueprint's `api.authz`), with data:
#
#   grants contains {"subject": "alice", "actions": ["invoke", "set_mode"],
#                    "entities": ["shop/web", "shop/web/**"], "effectors": ["resize"]}
#
# or with rules of their own (`allow if { ... }`), and may close reading with
# `restrict_reads := true` (reads then need a grant too). `reasons` explains a
# denial in the API's 403; operator files may add to it.
package autonomic.authz

import rego.v1

default allow := false

# Set to true in an operator file to make reads need a grant.
default restrict_reads := false

allow if {
	input.action == "read"
	not restrict_reads
}

allow if {
	some grant in grants
	_grant_allows(grant)
}

# Grants come from operator files; the library grants nothing (this body never holds).
grants contains grant if {
	some grant in []
}

reasons contains msg if {
	not allow
	msg := sprintf("%s may not %s %s: no grant in package autonomic.authz allows it", [_who, _action, _target])
}

# ---------------------------------------------------------------------------
# A grant: subject (a name, a list of names, or "*"), actions, and optional
# entity globs (over ids, "/" separated; default every entity), effectors
# (invoke) and modes (set_mode). A malformed grant allows nothing.
# ---------------------------------------------------------------------------

_grant_allows(g) if {
	is_object(g)
	_subject_in(g)
	_action in _strings(object.get(g, "actions", []))
	_entity_in(g)
	_effector_in(g)
	_mode_in(g)
}

_subject_in(g) if {
	some s in _strings(object.get(g, "subject", []))
	s in {"*", input.subject}
}

_entity_in(g) if {
	some pattern in _strings(object.get(g, "entities", ["**"]))
	glob.match(pattern, ["/"], _entity)
}

_effector_in(g) if _action != "invoke"

_effector_in(g) if {
	_action == "invoke"
	not "effectors" in object.keys(g)
}

_effector_in(g) if {
	_action == "invoke"
	object.get(_resource, "effector", null) in _strings(g.effectors)
}

_mode_in(g) if _action != "set_mode"

_mode_in(g) if {
	_action == "set_mode"
	not "modes" in object.keys(g)
}

_mode_in(g) if {
	_action == "set_mode"
	object.get(_resource, "mode", null) in _strings(g.modes)
}

# ---------------------------------------------------------------------------
# Input, normalised: no input can raise a runtime error.
# ---------------------------------------------------------------------------

_strings(x) := [x] if is_string(x)

_strings(x) := [s | some s in x; is_string(s)] if is_array(x)

_strings(x) := [] if {
	not is_string(x)
	not is_array(x)
}

_resource := input.resource if {
	is_object(input.resource)
} else := {}

_action := input.action if {
	is_string(input.action)
} else := ""

_entity := e if {
	e := object.get(_resource, "entity", "")
	is_string(e)
} else := ""

_who := sprintf("subject %q", [input.subject]) if {
	is_string(input.subject)
} else := "an unnamed caller"

_target := sprintf("%v.%v", [_entity, object.get(_resource, "effector", "?")]) if {
	_action == "invoke"
} else := sprintf("%v (to mode %v)", [_entity, object.get(_resource, "mode", "?")]) if {
	_action == "set_mode"
} else := sprintf("action %v", [object.get(_resource, "action", "?")]) if {
	_action == "approve"
} else := sprintf("%v", [object.get(_resource, "path", _entity)])
