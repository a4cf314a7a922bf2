# autonomic.scaling: the Kubernetes HorizontalPodAutoscaler, as a Rego policy.
#
# The cluster entity is the HPA's scale target, its children are the pods.
# The policy follows pkg/controller/podautoscaler (replica_calculator.go and
# horizontal.go) step by step: pod grouping, the utilization / average-value /
# object / external replica calculations with their tolerance band and the
# missing- and unready-pod corrections, the max over metrics, the "invalid
# metric blocks scale-down" rule, then either the legacy normalization
# (downscale stabilization window, scale-up limit, min/max) or the
# `behavior` one (scale-up/-down stabilization windows, rate policies,
# min/max).
#
# Numbers follow HPA exactly: sensor values become integer milli-units (as
# Quantity.MilliValue does), averages and utilization percentages use Go's
# integer division, and every float64 step of the Go code (ratios, the
# ceil(ratio * pods), the percent policies, the tolerance bounds) is
# emulated bit for bit with integer arithmetic, so OPA (exact decimals) and
# regorus (f64) give the same, Go-identical, answer.
#
# Performance. The policy runs every round for every cluster, mostly on
# regorus, where it must stay well under a millisecond. regorus evaluates a
# complete rule once per evaluation but a function anew at each call (in
# every else branch and every comprehension iteration); a call costs a few
# microseconds, a builtin or a reference to a rule about one, an operator
# almost nothing. So:
# - a value needed more than once is a complete rule, or is computed once by
#   the caller and passed down (f(x) := g(x, expensive(x))); a rule used in
#   a loop is read into a variable first;
# - the usual case is tried first, in one body without helper calls (the
#   configuration check, metric specs, every member running and ready with
#   a value, a clean history, equal requests, no symptom), the general path
#   only when it fails; problem messages are built only when misconfigured;
# - whole lists are checked at once where they can be: min/max of a list
#   of mixed types is not a number; the history is matched as JSON against
#   a regular expression;
# - members are classified with sets of indexes (set algebra per metric,
#   sort() for the order);
# - the float64 emulation uses bits.lsh/rsh and format_int, exact on big
#   integers on both engines, and skips the work for values that are
#   float64 already, exact quotients, the usual tolerances and factors;
# - no reference with two variable keys (x[a].y[b], x[a][b]: very slow on
#   regorus); a variable holds the first part;
# - references, not object.get, read what may not be an object (they are
#   undefined there, never an error), and never inside `not` (OPA evaluates
#   such a reference outside the negation).
#
# Reference: docs/policies/scaling.md.

package autonomic.scaling

import rego.v1

# ---------------------------------------------------------------------------
# Small generic helpers
# ---------------------------------------------------------------------------

_obj(x) := x if {
	is_object(x)
} else := {}

# An integer in the int32 range (HPA's counts are int32).
_is_int(x) if {
	is_number(x)
	x <= 2147483647
	x >= -2147483648
	floor(x) == x
}

_nonneg_int(x) if {
	_is_int(x)
	x >= 0
}

_pos_int(x) if {
	_is_int(x)
	x >= 1
}

_nonempty_string(x) if {
	is_string(x)
	x != ""
}

# A sensor value HPA could read: a number in [0, 9e12] (so that its
# milli-value is an exact integer on every engine).
_valid_value(v) if {
	is_number(v)
	v >= 0
	v <= 9000000000000
}

_positive_value(v) if {
	_valid_value(v)
	v > 0
}

_small_number(x) if {
	is_number(x)
	x >= 0
	x <= 1000000
}

# Integer division of integers a >= 0 by b > 0 (Go's int64 division for
# those signs), exact on both engines: a - a % b is an exact multiple of b,
# which regorus divides exactly and OPA to 64 bits; the second term corrects
# OPA's rounding of quotients beyond 2^62 (it is 0 otherwise). The operands
# must be integers, not integral floats (regorus refuses % on large
# floats): integral inputs (counts, percentages) are floor()ed where they
# enter the arithmetic.
_idiv(a, b) := q + round(((a - r) - (q * b)) / b) if {
	r := a % b
	q := round((a - r) / b)
}

# Quantity.MilliValue: the value in thousandths, rounded up, of a valid
# value (0 <= v <= 9e12): from its first 6 decimals below 9e9, else from its
# first 3. The ceil of the quotient is exact: below 9e12, float64 (and OPA's
# 64-bit division) tells an integer from an integer plus a thousandth.
_milli(v) := ceil(round(v * 1000000) / 1000) if {
	v < 9000000000
} else := round(v * 1000)

# _milli of each value of a list of valid values.
_millis(vs) := [] if {
	count(vs) == 0
} else := [ceil(round(v * 1000000) / 1000) | some v in vs] if {
	max(vs) < 9000000000
} else := [_milli(v) | some v in vs]

# Whether every element of the non-empty list vs is a valid value (a list
# of mixed types has a minimum or maximum that is not a number).
_all_valid_values(vs) if {
	lo := min(vs)
	is_number(lo)
	lo >= 0
	hi := max(vs)
	is_number(hi)
	hi <= 9000000000000
}

# ---------------------------------------------------------------------------
# float64 emulation
#
# A value is a rational [numerator, denominator] of integers, the
# denominator a power of two (or 1). _fl(n, d) is the float64 nearest to n/d
# (round half to even), as an exact rational. Every float64 operation of the
# Go code is written as _fl(exact result of the operation on float64
# operands).
# ---------------------------------------------------------------------------

# Over a power of two (counts, and all the values _fl returns), rounding
# the numerator to 53 bits is enough (the denominator only moves the
# exponent); exact integer quotients are float64 values too.
_fl(n, d) := [_round53(n), d] if {
	bits.and(d, d - 1) == 0
	n >= 0
} else := [0 - _round53(0 - n), d] if {
	bits.and(d, d - 1) == 0
} else := [q, 1] if {
	n % d == 0
	q := round(n / d)
	abs(q) <= 9007199254740992
} else := _flpos(n, d) if {
	n > 0
} else := [0 - p[0], p[1]] if {
	p := _flpos(0 - n, d)
}

# The float64 nearest to n / d, for integers n, d > 0: the 53-bit mantissa
# m = round(n * 2^s / d), 2^52 <= n * 2^s / d < 2^53, and the value m / 2^s.
# e0, the difference of the bit lengths, is floor(log2(n / d)) or one more:
# a / b (n / d scaled by 2^-e0) is in (1/2, 2), so a - a % b is b or 0 and
# tells which. x / y is n * 2^s / d as integers, whatever the sign of s; its
# exact remainder r gives the quotient (below 2^53: exact on both engines,
# see _idiv) and the rounding. ((abs(k) + k) / 2 is max(0, k), without the
# array max() needs.)
_flpos(n, d) := [bits.lsh(m, (abs_s - s) / 2), bits.lsh(1, (abs_s + s) / 2)] if {
	e0 := count(format_int(n, 2)) - count(format_int(d, 2))
	abs_e0 := abs(e0)
	a := bits.lsh(n, (abs_e0 - e0) / 2)
	b := bits.lsh(d, (abs_e0 + e0) / 2)
	s := (53 - e0) - round((a - (a % b)) / b)
	abs_s := abs(s)
	x := bits.lsh(n, (abs_s + s) / 2)
	y := bits.lsh(d, (abs_s - s) / 2)
	r := x % y
	m := _round_half_even(round((x - r) / y), 2 * r, y)
}

# The quotient q, rounded by the remainder (r2: twice the remainder, den:
# the divisor).
_round_half_even(q, r2, den) := q + 1 if {
	r2 > den
} else := q + (q % 2) if {
	r2 == den
} else := q

# The float64 nearest to the integer x >= 0, as an integer: x rounded to its
# 53 leading bits.
_round53(x) := x if {
	x <= 9007199254740992
} else := bits.lsh(_round_half_even(q, 2 * (x - bits.lsh(q, k)), bits.lsh(1, k)), k) if {
	k := count(format_int(x, 2)) - 53
	q := bits.rsh(x, k)
}

# float64 of a decimal config number (up to 9 decimals), as Go parses it;
# integers (at most 1e6 here) and multiples of 1/512 (9 decimals at most:
# 1.5, 0.25, ...) are exact.
_decf(v) := [floor(v), 1] if {
	floor(v) == v
} else := [floor(x), 512] if {
	x := v * 512
	floor(x) == x
} else := _fl(round(v * 1000000000), 1000000000)

_lt(a, b) if a[0] * b[1] < b[0] * a[1]

_lt1(r) if r[0] < r[1]

_gt1(r) if r[0] > r[1]

# math.Ceil and int32() truncation of a rational.
_ceil(r) := _idiv((r[0] + r[1]) - 1, r[1]) if {
	r[0] >= 0
} else := 0 - _idiv(0 - r[0], r[1])

_trunc(r) := _idiv(r[0], r[1]) if {
	r[0] >= 0
} else := 0 - _idiv(0 - r[0], r[1])

# ceil(float64(ratio) * float64(count)) for a ratio >= 0: the product of the
# numerator is rounded to float64 (the denominator is a power of two, which
# only shifts the exponent).
_ceil_times(ratio, n) := _idiv((x + ratio[1]) - 1, ratio[1]) if {
	x := ratio[0] * n
	x <= 9007199254740992
} else := _idiv((_round53(ratio[0] * n) + ratio[1]) - 1, ratio[1])

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

# The input is read with references, which are undefined (never an error)
# through anything that is not an object: hence the defaults.

_sensors := s if {
	s := input.entity.sensors
	is_object(s)
} else := {}

_scaling_raw := s if {
	s := input.entity.config.scaling
} else := null

_sc := s if {
	s := _scaling_raw
	is_object(s)
} else := {}

# The members, as given: one that is not an object has no lifecycle, no
# readiness and no sensors (references into it are undefined).
_children := c if {
	c := input.children
	is_array(c)
} else := []

# Recommendations history (oldest first); entries whose replicas is not an
# integer or whose time is not a number are skipped.
_recs_raw := r if {
	r := input.knowledge.history.recommendations
	is_array(r)
} else := []

_events_raw := e if {
	e := input.knowledge.history.scale_events
	is_array(e)
} else := []

# Every entry usable (the usual case), checked on the whole history at once:
# each is exactly {"replicas": <integer below 1e9 in absolute value>,
# "time": <number>} in JSON (both engines write objects with sorted keys and
# no spaces); then a window is a plain filter. (Below 9 entries, checking
# each is as cheap.)
_recs_clean if {
	recs := _recs_raw
	count(recs) > 8
	regex.match(`^\[(\{"replicas":-?[0-9]{1,9},"time":-?[0-9]+(\.[0-9]+)?\},?)*\]$`, json.marshal(recs))
}

# The replicas of the usable recommendations at or after cutoff.
_recs_from(cutoff) := [h.replicas | some h in _recs_raw; h.time >= cutoff] if {
	_recs_clean
} else := [r |
	some h in _recs_raw
	t := h.time
	is_number(t)
	t >= cutoff
	r := h.replicas
	is_number(r)
	r <= 2147483647
	r >= -2147483648
	floor(r) == r
]

# The same, strictly after cutoff.
_recs_after(cutoff) := [h.replicas | some h in _recs_raw; h.time > cutoff] if {
	_recs_clean
} else := [r |
	some h in _recs_raw
	t := h.time
	is_number(t)
	t > cutoff
	r := h.replicas
	is_number(r)
	r <= 2147483647
	r >= -2147483648
	floor(r) == r
]

# Scale events; the change is made an integer for the float64 emulation.
_events := [{"change": floor(c), "time": t} |
	some h in _events_raw
	c := h.change
	t := h.time
	is_number(c)
	c <= 2147483647
	c >= -2147483648
	floor(c) == c
	is_number(t)
]

_now := n if {
	n := input.now
	is_number(n)
	n >= -1000000000000000
	n <= 1000000000000000
}

# HPA's scale.spec.replicas.
current := r if {
	r := _sensors.replicas
	is_number(r)
	r >= 0
	r <= 2147483647
	floor(r) == r
}

# current as an integer (an integral float such as 3.0 is accepted), for
# the float64 emulation.
_cur := floor(current)

_current_or_null := current

default _current_or_null := null

# HPA's scale.status.replicas: the observed_replicas sensor, else the
# number of members that are not ignored.
observed_replicas := v if {
	v := object.get(_sensors, "observed_replicas", null)
	_nonneg_int(v)
} else := count(_children) if {
	_all_ready
} else := count(_member_sets.running) + count(_member_sets.pending)

min_replicas := m if {
	m := object.get(_sc, "min_replicas", 1)
	is_number(m)
	m >= 0
	m <= 2147483647
	floor(m) == m
}

max_replicas := m if {
	m := object.get(_sc, "max_replicas", null)
	is_number(m)
	m >= 1
	m <= 2147483647
	floor(m) == m
}

_metrics_list := m if {
	m := _sc.metrics
	is_array(m)
	count(m) > 0
}

_tol_raw := object.get(_sc, "tolerance", {})

_tol := t if {
	t := _tol_raw
	is_object(t)
} else := {}

# behavior.scaleUp/scaleDown.tolerance (HPA's configurable tolerance) wins
# over tolerance.scale_up/scale_down; both default to 0.1.
_tol_up_raw := object.get(_tol, "scale_up", 0.1) if {
	_beh_raw == null
} else := _tol_from_behavior("scaleUp", object.get(_tol, "scale_up", 0.1))

_tol_down_raw := object.get(_tol, "scale_down", 0.1) if {
	_beh_raw == null
} else := _tol_from_behavior("scaleDown", object.get(_tol, "scale_down", 0.1))

_tol_from_behavior(d, fallback) := t if {
	t := object.get(_dirs[d], "tolerance", null)
	t != null
} else := fallback

# Tolerance band: isWithin(r) is (1 - scaleDown) <= r <= (1 + scaleUp), in
# float64. 1 + t and 1 - t precomputed for usual tolerances t, the default
# 0.1 first (the values of the general path, which is Go's:
# float64(1) + float64(t)).
_hi := [4953959590107546, 4503599627370496] if {
	_tol_up_raw == 0.1
} else := h if {
	h := _ONE_PLUS[_tol_up_raw]
} else := _fl(t[1] + t[0], t[1]) if {
	_small_number(_tol_up_raw)
	t := _decf(_tol_up_raw)
}

_lo := [8106479329266893, 9007199254740992] if {
	_tol_down_raw == 0.1
} else := l if {
	l := _ONE_MINUS[_tol_down_raw]
} else := _fl(t[1] - t[0], t[1]) if {
	_small_number(_tol_down_raw)
	t := _decf(_tol_down_raw)
}

_ONE_PLUS := {
	0.01: [4548635623644201, 4503599627370496],
	0.02: [4593671619917906, 4503599627370496],
	0.05: [4728779608739021, 4503599627370496],
	0.1: [4953959590107546, 4503599627370496],
	0.15: [5179139571476070, 4503599627370496],
	0.2: [5404319552844595, 4503599627370496],
	0.3: [5854679515581645, 4503599627370496],
}

_ONE_MINUS := {
	0.01: [8917127262193582, 9007199254740992],
	0.02: [8827055269646172, 9007199254740992],
	0.05: [8556839292003942, 9007199254740992],
	0.1: [8106479329266893, 9007199254740992],
	0.15: [7656119366529843, 9007199254740992],
	0.2: [7205759403792794, 9007199254740992],
	0.3: [6305039478318694, 9007199254740992],
}

# Validated numbers (undefined when invalid, which makes the config misconfigured).
_legacy_window := w if {
	w := object.get(_sc, "downscale_stabilization_window_s", 300)
	is_number(w)
	w >= 0
	w <= 1000000
}

_factor := f if {
	f := object.get(_sc, "scale_up_limit_factor", 2)
	is_number(f)
	f >= 0
	f <= 1000000
}

_minimum := m if {
	m := object.get(_sc, "scale_up_limit_minimum", 4)
	is_number(m)
	m >= 0
	m <= 1000000
}

# (Rules read once into variables: each reference costs on regorus.)
_within(r) if {
	lo := _lo
	lo[0] * r[1] <= r[0] * lo[1]
	hi := _hi
	r[0] * hi[1] <= hi[0] * r[1]
}

# ---------------------------------------------------------------------------
# behavior (HPA's spec.behavior, with HPA's defaults)
# ---------------------------------------------------------------------------

_beh_raw := object.get(_sc, "behavior", null)

_beh := b if {
	b := _beh_raw
	is_object(b)
} else := {}

# behavior.scaleUp and behavior.scaleDown as given (null when absent), and
# as objects.
_dirs_raw := {"scaleUp": object.get(_beh, "scaleUp", null), "scaleDown": object.get(_beh, "scaleDown", null)}

_dirs := {d: _obj(raw) | some d, raw in _dirs_raw}

_window_up := w if {
	w := object.get(_dirs.scaleUp, "stabilizationWindowSeconds", null)
	is_number(w)
	w >= 0
	w <= 3600
	floor(w) == w
} else := 0

_window_down := w if {
	w := object.get(_dirs.scaleDown, "stabilizationWindowSeconds", null)
	is_number(w)
	w >= 0
	w <= 3600
	floor(w) == w
} else := _legacy_window

_select_up := _select("scaleUp")

_select_down := _select("scaleDown")

_select(d) := s if {
	s := object.get(_dirs[d], "selectPolicy", null)
	s != null
} else := "Max"

# (Only read once the configuration is valid: given policies are valid.)
_policies_up := p if {
	p := object.get(_dirs.scaleUp, "policies", null)
	p != null
} else := [
	{"type": "Pods", "value": 4, "periodSeconds": 15},
	{"type": "Percent", "value": 100, "periodSeconds": 15},
]

_policies_down := p if {
	p := object.get(_dirs.scaleDown, "policies", null)
	p != null
} else := [{"type": "Percent", "value": 100, "periodSeconds": 15}]

_valid_policy(p) if {
	p.type in {"Pods", "Percent"}
	v := p.value
	is_number(v)
	v >= 1
	v <= 2147483647
	floor(v) == v
	ps := p.periodSeconds
	is_number(ps)
	ps >= 1
	ps <= 1800
	floor(ps) == ps
}

# ---------------------------------------------------------------------------
# Configuration problems: any of them makes the decision a no-op
# ---------------------------------------------------------------------------

# No problem at all: the negation of every _problem condition, in one body
# (the messages are only built when this fails).
_config_ok if {
	is_object(_scaling_raw)
	current
	_now
	min_replicas <= max_replicas
	_metrics_list
	_tol_raw in [null, _tol]
	up := _tol_up_raw
	is_number(up)
	up >= 0
	up <= 1000000
	down := _tol_down_raw
	is_number(down)
	down >= 0
	down <= 1000000
	_legacy_window
	_factor
	_minimum
	_behavior_ok
}

_behavior_ok if {
	_beh_raw == null
} else if {
	is_object(_beh_raw)
	every raw in _dirs_raw {
		_dir_ok(raw)
	}
}

# behavior.scaleUp or scaleDown without problem (see _behavior_problem):
# absent, or an object whose fields are absent, null or valid.
_dir_ok(raw) if {
	raw == null
} else if {
	is_object(raw)
	object.get(raw, "selectPolicy", null) in {null, "Max", "Min", "Disabled"}
	_window_ok_or_null(object.get(raw, "stabilizationWindowSeconds", null))
	_policies_ok_or_null(object.get(raw, "policies", null))
}

# (_window_ok and _policies_ok, inline.)
_window_ok_or_null(w) if {
	w == null
} else if {
	is_number(w)
	w >= 0
	w <= 3600
	floor(w) == w
}

_policies_ok_or_null(p) if {
	p == null
} else if {
	is_array(p)
	count(p) > 0
	every x in p {
		_valid_policy(x)
	}
}

_misconfigured if not _config_ok

_problem contains "no scaling config (entity.config.scaling)" if not is_object(_scaling_raw)

_problem contains "sensor replicas is missing or not a non-negative integer" if not current

_problem contains "input.now is missing or not a number (in seconds)" if not _now

_problem contains "min_replicas must be a non-negative integer" if {
	is_object(_scaling_raw)
	not min_replicas
}

_problem contains "max_replicas must be an integer >= 1" if {
	is_object(_scaling_raw)
	not max_replicas
}

_problem contains "min_replicas is greater than max_replicas" if min_replicas > max_replicas

_problem contains "metrics must be a non-empty list" if {
	is_object(_scaling_raw)
	not _metrics_list
}

_problem contains "tolerance must be an object" if not _tol_raw in [null, _tol]

_problem contains "tolerance.scale_up (or behavior.scaleUp.tolerance) must be a number in [0, 1e6]" if not _small_number(_tol_up_raw)

_problem contains "tolerance.scale_down (or behavior.scaleDown.tolerance) must be a number in [0, 1e6]" if not _small_number(_tol_down_raw)

_problem contains "downscale_stabilization_window_s must be a number >= 0" if not _legacy_window

_problem contains "scale_up_limit_factor must be a number >= 0" if not _factor

_problem contains "scale_up_limit_minimum must be a number >= 0" if not _minimum

_problem contains "behavior must be an object" if {
	_beh_raw != null
	not is_object(_beh_raw)
}

_problem contains p if some p in _behavior_problem

_behavior_problem contains sprintf("behavior.%s must be an object", [d]) if {
	some d, raw in _dirs_raw
	raw != null
	not is_object(raw)
}

_behavior_problem contains sprintf("behavior.%s.stabilizationWindowSeconds must be an integer in [0, 3600]", [d]) if {
	some d, dir in _dirs
	w := object.get(dir, "stabilizationWindowSeconds", null)
	w != null
	not _window_ok(w)
}

_window_ok(w) if {
	is_number(w)
	w >= 0
	w <= 3600
	floor(w) == w
}

_behavior_problem contains sprintf("behavior.%s.selectPolicy must be Max, Min or Disabled", [d]) if {
	some d, dir in _dirs
	s := object.get(dir, "selectPolicy", null)
	s != null
	not s in {"Max", "Min", "Disabled"}
}

_behavior_problem contains sprintf("behavior.%s.policies must be a non-empty list of {type: Pods|Percent, value > 0, periodSeconds in [1, 1800]}", [d]) if {
	some d, dir in _dirs
	p := object.get(dir, "policies", null)
	p != null
	not _policies_ok(p)
}

_policies_ok(p) if {
	is_array(p)
	count(p) > 0
	every x in p {
		_valid_policy(x)
	}
}

# ---------------------------------------------------------------------------
# Members (pods): HPA's groupPods
# ---------------------------------------------------------------------------

# Member indexes by lifecycle and readiness: deleted or failed pods
# (stopping, stopped, on_fire) are ignored, in no set; pending pods
# (created, starting) are unready for every metric; any other lifecycle (or
# none, or one that is not a string) is running, and a running member is
# ready or not.
_member_sets := {"pending": pending, "running": running, "ready": ready} if {
	children := _children
	not_running := {"stopping", "stopped", "on_fire", "created", "starting"}
	out := {i | some i, c in children; c.lifecycle in not_running}
	pending := {i | some i in out; children[i].lifecycle in {"created", "starting"}}
	running := {i | some i, _ in children} - out
	ready := running & {i | some i, c in children; c.ready == true}
}

# Every member running and ready (the usual case), without building the sets.
_all_ready if {
	children := _children
	count([1 | some c in children; c.ready == true]) == count(children)
	not_running := {"stopping", "stopped", "on_fire", "created", "starting"}
	count([1 | some c in children; c.lifecycle in not_running]) == 0
}

_cid(c, idx) := id if {
	id := c.id
	is_string(id)
} else := sprintf("#%d", [idx])

# The members of each class for the metric on sensor s, as lists of indexes
# in order: ready, unready (pending, or running and not ready), missing
# (running, with no usable value); and the sum of the milli-values of the
# ready ones ("total"). The usual case first: every member running and
# ready, with a value.
_groups(s) := {"ready": numbers.range(0, count(vals) - 1), "total": sum(_millis(vals)), "unready": [], "missing": []} if {
	_all_ready
	children := _children
	vals := [v | some c in children; v := c.sensors[s]]
	count(vals) == count(children)
	_all_valid_values(vals)
} else := {"ready": ready, "total": sum(values), "unready": unready, "missing": missing} if {
	children := _children
	sets := _member_sets
	ok := _with_value(children, sets.running, s)
	ready := sort(sets.ready & ok)
	values := _millis([v | some i in ready; c := children[i]; v := c.sensors[s]])
	unready := sort(sets.pending | ((sets.running - sets.ready) & ok))
	missing := sort(sets.running - ok)
}

# The running members with a usable value of sensor s.
_with_value(children, running, s) := {i |
	some i in running
	c := children[i]
	v := c.sensors[s]
	is_number(v)
	v >= 0
	v <= 9000000000000
}

# The milli-request of member i (rs: the request sensor), or null.
_mrequest(i, rs) := _milli(r) if {
	c := _children[i]
	r := c.sensors[rs]
	_valid_value(r)
} else := null

# The sum of the milli-requests of the members (indexes; rs: the request
# sensor), or null when one has none. Requests are usually all the same.
_requests_total(members, rs) := total if {
	children := _children
	raw := [r | some i in members; c := children[i]; r := c.sensors[rs]]
	count(raw) == count(members)
	_all_valid_values(raw)
	total := _same_milli_sum(raw, {r | some r in raw})
} else := null

_same_milli_sum(vs, distinct) := _milli(vs[0]) * count(vs) if {
	count(distinct) == 1
} else := sum(_millis(vs))

# GetReadyPodsCount: running and ready pods.
_ready_pods := count(_children) if {
	_all_ready
} else := count(_member_sets.ready)

# ---------------------------------------------------------------------------
# One metric: HPA's replica calculator
# ---------------------------------------------------------------------------

_source(m) := object.get(m, "source", "members")

_ttype(m) := object.get(_obj(object.get(m, "target", null)), "type", null)

# The three valid forms first (the chain's conditions, all false), then the
# chain, which names the first problem.
_spec_error(m) := "" if {
	is_object(m)
	s := m.sensor
	is_string(s)
	s != ""
	t := m.target
	is_object(t)
	t.type == "Utilization"
	object.get(m, "source", "members") == "members"
	u := t.averageUtilization
	is_number(u)
	u >= 1
	u <= 2147483647
	floor(u) == u
	rs := m.request_sensor
	is_string(rs)
	rs != ""
} else := "" if {
	is_object(m)
	s := m.sensor
	is_string(s)
	s != ""
	t := m.target
	is_object(t)
	t.type == "AverageValue"
	object.get(m, "source", "members") in {"members", "self"}
	v := t.averageValue
	is_number(v)
	v > 0
	v <= 9000000000000
} else := "" if {
	is_object(m)
	s := m.sensor
	is_string(s)
	s != ""
	t := m.target
	is_object(t)
	t.type == "Value"
	object.get(m, "source", "members") == "self"
	v := t.value
	is_number(v)
	v > 0
	v <= 9000000000000
} else := "metric must be an object" if {
	not is_object(m)
} else := "sensor must be a non-empty string" if {
	not _nonempty_string(object.get(m, "sensor", null))
} else := "source must be members or self" if {
	not _source(m) in {"members", "self"}
} else := "target must be an object" if {
	not is_object(object.get(m, "target", null))
} else := "target.type must be Utilization, AverageValue or Value" if {
	not _ttype(m) in {"Utilization", "AverageValue", "Value"}
} else := "Utilization targets need source members" if {
	_ttype(m) == "Utilization"
	_source(m) == "self"
} else := "Value targets need source self" if {
	_ttype(m) == "Value"
	_source(m) == "members"
} else := "target.averageUtilization must be a positive integer" if {
	_ttype(m) == "Utilization"
	not _pos_int(object.get(m.target, "averageUtilization", null))
} else := "Utilization targets need a request_sensor" if {
	_ttype(m) == "Utilization"
	not _nonempty_string(object.get(m, "request_sensor", null))
} else := "target.averageValue must be a positive number" if {
	_ttype(m) == "AverageValue"
	not _positive_value(object.get(m.target, "averageValue", null))
} else := "target.value must be a positive number" if {
	_ttype(m) == "Value"
	not _positive_value(object.get(m.target, "value", null))
} else := ""

_invalid(msg) := {"valid": false, "error": msg}

# (Past _spec_error, m and m.target are objects and the type is known.)
_eval(m) := _invalid(e) if {
	e := _spec_error(m)
	e != ""
} else := _eval_utilization(m, _groups(m.sensor)) if {
	m.target.type == "Utilization"
} else := _eval_average(m, _groups(m.sensor)) if {
	m.target.type == "AverageValue"
	_source(m) == "members"
} else := _eval_object_value(m) if {
	m.target.type == "Value"
} else := _eval_object_average(m) if {
	m.target.type == "AverageValue"
} else := _invalid("metric could not be evaluated")

_ok(replicas, held, extra) := object.union(extra, {"valid": true, "replicas": replicas, "held": held, "error": null})

# True when the recomputed ratio says "keep the current count" (HPA: within
# tolerance, or the correction flipped the scale direction).
_hold(_, new_ratio) if _within(new_ratio)

_hold(ratio, new_ratio) if {
	_lt1(ratio)
	_gt1(new_ratio)
}

_hold(ratio, new_ratio) if {
	_gt1(ratio)
	_lt1(new_ratio)
}

_flips(new_ratio, n) if {
	_lt1(new_ratio)
	n > current
}

_flips(new_ratio, n) if {
	_gt1(new_ratio)
	n < current
}

_scale_up_with_unready(unready, ratio) if {
	count(unready) > 0
	_gt1(ratio)
}

# The proposal after the missing/unready correction, from the recomputed
# ratio over n members: the current count when the ratio says hold or the
# new count moves against it, else the new count.
_recomputed(ratio, new_ratio, n) := {"valid": true, "replicas": current, "held": true, "error": null} if {
	_hold(ratio, new_ratio)
} else := _recomputed_count(new_ratio, _ceil_times(new_ratio, n))

_recomputed_count(new_ratio, c) := {"valid": true, "replicas": current, "held": true, "error": null} if {
	_flips(new_ratio, c)
} else := {"valid": true, "replicas": c, "held": false, "error": null}

# --- Resource / Utilization (GetResourceReplicas) ---

# int32((usage * 100) / requests), clamped to the int32 range as upstream does.
_percent(usage, requests) := 2147483647 if {
	usage * 100 > requests * 2147483647
} else := _idiv(usage * 100, requests)

# g: the members by class (_groups); requests: the sum of the
# milli-requests of the ready ones, null when one has none.
_eval_utilization(m, g) := _utilization_checked(m, g, _requests_total(g.ready, m.request_sensor))

_utilization_checked(m, g, requests) := _invalid("no members") if {
	count(_children) == 0
} else := _invalid(sprintf("no ready member reports %s", [m.sensor])) if {
	count(g.ready) == 0
} else := _invalid(sprintf("member %s has no valid %s", [id, m.request_sensor])) if {
	requests == null
	i := [k | some k in g.ready; _mrequest(k, m.request_sensor) == null][0]
	id := _cid(_children[i], i)
} else := _invalid(sprintf("the %s of the ready members sum to zero", [m.request_sensor])) if {
	requests == 0
} else := _utilization_result(floor(m.target.averageUtilization), m.request_sensor, g, g.total, requests)

# usage, requests: the sums over the ready members.
_utilization_result(t, rs, g, usage, requests) := object.union(r, {"utilization": util}) if {
	util := _percent(usage, requests)
	r := _utilization_replicas(t, rs, _fl(util, t), g, usage, requests)
}

# (Without unready or missing members, the proposal is plain: the current
# count within the tolerance band, else ceil(ratio * ready members).)
_utilization_replicas(t, rs, ratio, g, usage, requests) := {"valid": true, "replicas": current, "held": true, "error": null} if {
	count(g.missing) == 0
	count(g.unready) == 0
	_within(ratio)
} else := {"valid": true, "replicas": _ceil_times(ratio, count(g.ready)), "held": false, "error": null} if {
	count(g.missing) == 0
	count(g.unready) == 0
} else := {"valid": true, "replicas": current, "held": true, "error": null} if {
	not _scale_up_with_unready(g.unready, ratio)
	count(g.missing) == 0
	_within(ratio)
} else := {"valid": true, "replicas": _ceil_times(ratio, count(g.ready)), "held": false, "error": null} if {
	not _scale_up_with_unready(g.unready, ratio)
	count(g.missing) == 0
} else := _utilization_corrected(t, ratio, g, usage, requests, _utilization_added(t, rs, ratio, g.unready, g.missing))

# added: the missing and unready members re-added, as {"idx", "v", "req"}.
_utilization_corrected(t, ratio, g, usage, requests, added) := _invalid(sprintf("member %s has no valid request", [id])) if {
	nulls := [x.idx | some x in added; x.req == null]
	count(nulls) > 0
	i := nulls[0]
	id := _cid(_children[i], i)
} else := _recomputed(
	ratio,
	_fl(_percent(usage + sum([x.v | some x in added]), requests + sum([x.req | some x in added])), t),
	count(g.ready) + count(added),
)

# Missing pods: 100% of the request (or the target, when above 100%) on a
# scale-down, 0 on a scale-up; unready pods: 0 on a scale-up.
_utilization_added(t, rs, ratio, unready, missing) := array.concat(
	_utilization_missing(t, ratio, [{"idx": i, "req": _mrequest(i, rs)} | some i in missing]),
	_unready_zero(ratio, [{"idx": i, "req": _mrequest(i, rs)} | some i in unready]),
)

_utilization_missing(t, ratio, missing) := [{"idx": x.idx, "v": _idiv(x.req * max([100, t]), 100), "req": x.req} |
	some x in missing
	x.req != null
] if {
	_lt1(ratio)
	count([x | some x in missing; x.req == null]) == 0
} else := [{"idx": x.idx, "v": null, "req": null} | some x in missing] if {
	_lt1(ratio)
} else := [{"idx": x.idx, "v": 0, "req": x.req} | some x in missing] if {
	_gt1(ratio)
} else := []

# (unready: objects with an "idx", and a "req" on the Utilization path.)
_unready_zero(ratio, unready) := [object.union(x, {"v": 0}) | some x in unready] if {
	_scale_up_with_unready(unready, ratio)
} else := []

# --- Pods / Resource AverageValue (calcPlainMetricReplicas) ---

_eval_average(m, g) := _invalid("no members") if {
	count(_children) == 0
} else := _invalid(sprintf("no ready member reports %s", [m.sensor])) if {
	count(g.ready) == 0
} else := _average_result(_milli(m.target.averageValue), g, g.total)

# total: the sum over the ready members.
_average_result(t, g, total) := object.union(r, {"value": usage / 1000}) if {
	usage := _idiv(total, count(g.ready))
	r := _average_replicas(t, _fl(usage, t), g, total)
}

_average_replicas(t, ratio, g, total) := {"valid": true, "replicas": current, "held": true, "error": null} if {
	count(g.missing) == 0
	count(g.unready) == 0
	_within(ratio)
} else := {"valid": true, "replicas": _ceil_times(ratio, count(g.ready)), "held": false, "error": null} if {
	count(g.missing) == 0
	count(g.unready) == 0
} else := {"valid": true, "replicas": current, "held": true, "error": null} if {
	not _scale_up_with_unready(g.unready, ratio)
	count(g.missing) == 0
	_within(ratio)
} else := {"valid": true, "replicas": _ceil_times(ratio, count(g.ready)), "held": false, "error": null} if {
	not _scale_up_with_unready(g.unready, ratio)
	count(g.missing) == 0
} else := _average_recomputed(t, ratio, count(g.ready), total, array.concat(
	_average_missing(t, ratio, g.missing),
	_unready_zero(ratio, [{"idx": i} | some i in g.unready]),
))

_average_missing(t, ratio, missing) := [{"idx": i, "v": t} | some i in missing] if {
	_lt1(ratio)
} else := [{"idx": i, "v": 0} | some i in missing] if {
	_gt1(ratio)
} else := []

# n, total: the count and sum over the ready members; added: the others
# re-added ({"idx", "v"}).
_average_recomputed(t, ratio, n, total, added) := _recomputed(
	ratio,
	_fl(_idiv(total + sum([x.v | some x in added]), n + count(added)), t),
	n + count(added),
)

# --- Object / External Value (GetObjectMetricReplicas, GetExternalMetricReplicas) ---

_self_value(m) := v if {
	v := object.get(_sensors, m.sensor, null)
	_valid_value(v)
}

_eval_object_value(m) := _invalid(sprintf("sensor %s of the cluster has no value", [m.sensor])) if {
	not _self_value(m)
} else := object.union(r, {"value": usage / 1000}) if {
	usage := _milli(_self_value(m))
	r := _object_value_replicas(_fl(usage, _milli(m.target.value)))
}

_object_value_replicas(ratio) := _ok(_ceil(ratio), false, {}) if {
	current == 0
} else := {"valid": true, "replicas": current, "held": true, "error": null} if {
	_within(ratio)
} else := _invalid("no members") if {
	count(_children) == 0
} else := {"valid": true, "replicas": _ceil_times(ratio, _ready_pods), "held": false, "error": null}

# --- Object / External AverageValue (GetObjectPerPodMetricReplicas, GetExternalPerPodMetricReplicas) ---

_eval_object_average(m) := _invalid(sprintf("sensor %s of the cluster has no value", [m.sensor])) if {
	not _self_value(m)
} else := _object_average_result(_milli(_self_value(m)), _milli(m.target.averageValue), observed_replicas)

# status: the observed replicas as given (the proposal when held); n, its
# integer copy, enters the arithmetic.
_object_average_result(usage, t, status) := _ok(_ceil(_fl(usage, t)), false, {"value": usage / 1000}) if {
	status == 0
} else := _object_average_nonzero(usage, t, status, floor(status))

_object_average_nonzero(usage, t, status, n) := _ok(status, true, {"value": _idiv((usage + n) - 1, n) / 1000}) if {
	per := _fl(t * n, 1)
	_within(_fl(usage * per[1], per[0]))
} else := _ok(_ceil(_fl(usage, t)), false, {"value": _idiv((usage + n) - 1, n) / 1000})

# ---------------------------------------------------------------------------
# All metrics (computeReplicasForMetrics)
# ---------------------------------------------------------------------------

_results := [_eval(m) | some m in _metrics_list]

_valid_proposals := [r.replicas | some r in _results; r.valid == true]

_invalid_count := count(_results) - count(_valid_proposals)

_str_or_null(x) := x if {
	is_string(x)
} else := null

_MEASURE_KEY := {"Utilization": "utilization"}

# One entry per configured metric, in order.
recommendations := [_entry(idx, m, _results[idx]) | some idx, m in _metrics_list] if {
	not _misconfigured
}

default recommendations := []

# A metric with a string sensor, source and type first.
_entry(idx, m, r) := {
	"index": idx,
	"sensor": m.sensor,
	"source": src,
	"target_type": tt,
	"replicas": object.get(r, "replicas", null),
	"valid": r.valid,
	"error": object.get(r, "error", null),
	key: object.get(r, key, null),
} if {
	is_object(m)
	is_string(m.sensor)
	src := object.get(m, "source", "members")
	is_string(src)
	is_object(m.target)
	tt := m.target.type
	is_string(tt)
	key := object.get(_MEASURE_KEY, tt, "value")
} else := {
	"index": idx,
	"sensor": _str_or_null(object.get(mo, "sensor", null)),
	"source": _str_or_null(_source(mo)),
	"target_type": _str_or_null(_ttype(mo)),
	"replicas": object.get(r, "replicas", null),
	"valid": r.valid,
	"error": object.get(r, "error", null),
	key: object.get(r, key, null),
} if {
	mo := _obj(m)
	key := _measure_key(mo)
}

_measure_key(m) := "utilization" if {
	_ttype(m) == "Utilization"
} else := "value"

# Which class each member got, per metric (HPA's groupPods), for explanation.
member_classes := [_member_classes(_with_value(_children, _member_sets.running, m.sensor), _member_sets) |
	some m in _metrics_list
	is_object(m)
	_nonempty_string(object.get(m, "sensor", null))
]

default member_classes := []

_member_classes(ok, sets) := [{"id": _cid(c, i), "class": _class(i, ok, sets)} | some i, c in _children]

_class(i, ok, sets) := "ready" if {
	i in sets.ready
	i in ok
} else := "unready" if {
	i in sets.pending
} else := "unready" if {
	i in sets.running
	i in ok
} else := "missing" if {
	i in sets.running
} else := "ignored"

# ---------------------------------------------------------------------------
# Stabilization and limits (normalizeDesiredReplicas[WithBehaviors])
# ---------------------------------------------------------------------------

_recommendation := max([0, max(_valid_proposals)])

# Legacy: max of the recommendations of the last window (cutoff included).
_legacy_stabilized := max(array.concat([_recommendation], _recs_from(_now - _legacy_window)))

# Behavior: lower bound from the scale-up window, upper bound from the
# scale-down window (samples strictly newer than the cutoff).
_up_bound := min(array.concat([_recommendation], _recs_after(_now - _window_up)))

_down_bound := max(array.concat([_recommendation], _recs_after(_now - _window_down)))

_raise(x, lower) := lower if {
	x < lower
} else := x

_cap(x, upper) := upper if {
	x > upper
} else := x

_behavior_stabilized := _cap(_raise(current, _up_bound), _down_bound)

_stabilized := _behavior_stabilized if {
	_beh_raw != null
} else := _legacy_stabilized

# Legacy scale-up limit: int32(max(factor * current, minimum)), exact for
# integral factor and minimum.
_legacy_up_limit := floor(max([_factor * _cur, _minimum])) if {
	floor(_factor) == _factor
	floor(_minimum) == _minimum
} else := _trunc(m) if {
	f := _decf(_factor)
	p := _fl(f[0] * _cur, f[1])
	q := _decf(_minimum)
	m := _larger(p, q)
}

_larger(p, q) := q if {
	_lt(p, q)
} else := p

# [final, limiting reason or ""] (convertDesiredReplicasWithRules).
_legacy_final := [min_replicas, "limited by min_replicas"] if {
	_stabilized < min_replicas
} else := [_legacy_up_limit, "limited by scale-up limit"] if {
	max_replicas > _legacy_up_limit
	_stabilized > _legacy_up_limit
} else := [max_replicas, "limited by max_replicas"] if {
	max_replicas <= _legacy_up_limit
	_stabilized > max_replicas
} else := [_stabilized, ""]

# The replicas at the start of the policy's period: the current count minus
# the changes of the resizes of the period (strictly newer), i.e. minus the
# replicas added, plus those removed.
_period_start(p) := _cur - sum([e.change | some e in _events; e.time > cutoff]) if {
	cutoff := _now - p.periodSeconds
}

_up_proposal(p) := _period_start(p) + p.value if {
	p.type == "Pods"
} else := _ceil(_fl(_period_start(p) * f[0], f[1])) if {
	a := _fl(floor(p.value), 100)
	f := _fl(a[1] + a[0], a[1])
}

_down_proposal(p) := _period_start(p) - p.value if {
	p.type == "Pods"
} else := _trunc(_fl(_period_start(p) * f[0], f[1])) if {
	a := _fl(floor(p.value), 100)
	f := _fl(a[1] - a[0], a[1])
}

# calculateScaleUpLimitWithScalingRules
_scale_up_limit := current if {
	_select_up == "Disabled"
} else := min([_up_proposal(p) | some p in _policies_up]) if {
	_select_up == "Min"
} else := max([_up_proposal(p) | some p in _policies_up])

# calculateScaleDownLimitWithBehaviors
_scale_down_limit := current if {
	_select_down == "Disabled"
} else := max([_down_proposal(p) | some p in _policies_down]) if {
	_select_down == "Min"
} else := min([_down_proposal(p) | some p in _policies_down])

_up_limit_reason := "scale-up disabled" if {
	_select_up == "Disabled"
} else := "limited by scale-up policy"

_down_limit_reason := "scale-down disabled" if {
	_select_down == "Disabled"
} else := "limited by scale-down policy"

# convertDesiredReplicasWithBehaviorRate
_behavior_final := _behavior_up(_raise(_scale_up_limit, current)) if {
	_stabilized > current
} else := _behavior_down(_cap(_scale_down_limit, current)) if {
	_stabilized < current
} else := [_stabilized, ""]

_behavior_up(limit) := [limit, _up_limit_reason] if {
	max_replicas > limit
	_stabilized > limit
} else := [max_replicas, "limited by max_replicas"] if {
	max_replicas <= limit
	_stabilized > max_replicas
} else := [_stabilized, ""]

_behavior_down(limit) := [limit, _down_limit_reason] if {
	min_replicas < limit
	_stabilized < limit
} else := [min_replicas, "limited by min_replicas"] if {
	min_replicas >= limit
	_stabilized < min_replicas
} else := [_stabilized, ""]

_final := _behavior_final if {
	_beh_raw != null
} else := _legacy_final

_held_at_current if {
	some r in _results
	r.valid == true
	r.held == true
	r.replicas == current
}

_normal_reason := _final[1] if {
	_final[1] != ""
} else := "scale-up stabilized" if {
	_stabilized != _recommendation
	_recommendation >= current
} else := "scale-down stabilized" if {
	_stabilized != _recommendation
} else := "within tolerance" if {
	_final[0] == current
	_held_at_current
} else := "recommendation equals current" if {
	_final[0] == current
} else := "scale up to recommendation" if {
	_final[0] > current
} else := "scale down to recommendation"

# ---------------------------------------------------------------------------
# Outcome
# ---------------------------------------------------------------------------

default _outcome := {"desired": null, "recommendation": null, "stabilized": null, "reason": "misconfigured"}

_outcome := {"desired": _current_or_null, "recommendation": null, "stabilized": null, "reason": "misconfigured"} if {
	_misconfigured
} else := {"desired": 0, "recommendation": null, "stabilized": null, "reason": "scaling disabled"} if {
	current == 0
	min_replicas != 0
} else := {"desired": max_replicas, "recommendation": null, "stabilized": null, "reason": "current above max_replicas"} if {
	current > max_replicas
} else := {"desired": min_replicas, "recommendation": null, "stabilized": null, "reason": "current below min_replicas"} if {
	current < min_replicas
} else := {"desired": current, "recommendation": null, "stabilized": null, "reason": "no valid metrics"} if {
	count(_valid_proposals) == 0
} else := {"desired": current, "recommendation": null, "stabilized": null, "reason": "invalid metric blocks scale-down"} if {
	_invalid_count > 0
	max(_valid_proposals) < current
} else := {"desired": _final[0], "recommendation": _recommendation, "stabilized": _stabilized, "reason": _normal_reason}

desired_replicas := _outcome.desired

reason := _outcome.reason

# The unstabilized recommendation HPA records (null when HPA records none).
recommendation := _outcome.recommendation

# The recommendation after the stabilization window(s), before the limits.
stabilized_recommendation := _outcome.stabilized

_actions := [{
	"target": "self",
	"effector": "resize",
	"args": {"replicas": o.desired},
	"reason": sprintf("%s: %d -> %d replicas", [o.reason, current, o.desired]),
}] if {
	not _misconfigured
	o := _outcome
	o.desired != current
} else := []

_LIMIT_REASONS := {
	"limited by min_replicas", "limited by max_replicas", "limited by scale-up limit",
	"limited by scale-up policy", "limited by scale-down policy", "scale-up disabled",
	"scale-down disabled", "current above max_replicas", "current below min_replicas",
}

# The usual case first: no symptom when the metrics were read, all valid,
# and the reason is not a limit nor an inactive state.
_symptoms := [] if {
	not _outcome.reason in _SYMPTOM_REASONS
	_invalid_count == 0
} else := [{
	"name": "misconfigured",
	"severity": "warning",
	"detail": {"problems": sort([p | some p in _problem])},
}] if {
	_misconfigured
} else := array.concat(_symptoms_invalid, _reason_symptoms(_outcome))

# The reasons that come with a symptom.
# (_LIMIT_REASONS, _METRICLESS_REASONS and the inactive ones.)
_SYMPTOM_REASONS := {
	"limited by min_replicas", "limited by max_replicas", "limited by scale-up limit",
	"limited by scale-up policy", "limited by scale-down policy", "scale-up disabled",
	"scale-down disabled", "current above max_replicas", "current below min_replicas",
	"misconfigured", "scaling disabled", "no valid metrics", "invalid metric blocks scale-down",
}

# One per invalid metric, unless the metrics were not looked at.
_symptoms_invalid := [{
	"name": "metric_invalid",
	"severity": "warning",
	"detail": {"index": e.index, "sensor": e.sensor, "error": e.error},
} |
	some e in recommendations
	e.valid == false
] if {
	not _outcome.reason in _METRICLESS_REASONS
	_invalid_count > 0
} else := []

# Stages where HPA does not look at the metrics.
_METRICLESS_REASONS := {"misconfigured", "scaling disabled", "current above max_replicas", "current below min_replicas"}

# The symptom of the reason, if any (scaling_limited or scaling_inactive).
_reason_symptoms(o) := [{
	"name": "scaling_limited",
	"severity": "info",
	"detail": {
		"reason": o.reason,
		"recommendation": o.recommendation,
		"stabilized": o.stabilized,
		"desired_replicas": o.desired,
	},
}] if {
	o.reason in _LIMIT_REASONS
} else := [{
	"name": "scaling_inactive",
	"severity": "warning",
	"detail": {"reason": o.reason, "invalid_metrics": _invalid_count},
}] if {
	o.reason in {"no valid metrics", "invalid metric blocks scale-down"}
} else := [{
	"name": "scaling_inactive",
	"severity": "info",
	"detail": {"reason": o.reason, "invalid_metrics": 0},
}] if {
	o.reason == "scaling disabled"
} else := []

decision := {
	"symptoms": _symptoms,
	"actions": _actions,
	"escalate": [],
	"remember": {},
	"desired_replicas": o.desired,
	"recommendation": o.recommendation,
	"reason": o.reason,
} if {
	o := _outcome
}
