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
# Reference: docs/policies/scaling.md.

package autonomic.scaling

import rego.v1

# ---------------------------------------------------------------------------
# Small generic helpers
# ---------------------------------------------------------------------------

_obj(x) := x if {
	is_object(x)
} else := {}

_arr(x) := x if {
	is_array(x)
} else := []

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

# Integer division of a >= 0 by b > 0 (Go's int64 division for those signs),
# exact on both engines for quotients below 2^53: "/" is only an estimate
# (OPA divides in 64-bit big.Float, regorus in f64), corrected with the exact
# integer remainder.
_idiv(a, b) := q0 + _idiv_fix(a - (q0 * b), b) if {
	q0 := floor(a / b)
}

_idiv_fix(r, b) := k + _idiv_step(r - (k * b), b) if {
	k := floor(r / b)
}

_idiv_step(r, b) := -1 if {
	r < 0
} else := 1 if {
	r >= b
} else := 0

# Quantity.MilliValue: the value in thousandths, rounded up.
_milli(v) := floor(v) * 1000 if {
	floor(v) == v
} else := _idiv(round(v * 1000000) + 999, 1000) if {
	v < 9000000000
} else := round(v * 1000)

# ---------------------------------------------------------------------------
# float64 emulation
#
# A value is a rational [numerator, denominator] of integers, denominator > 0.
# _fl(n, d) is the float64 nearest to n/d (round half to even), as an exact
# rational. Every float64 operation of the Go code is written as
# _fl(exact result of the operation on float64 operands).
# ---------------------------------------------------------------------------

_LOW := [
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
	65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216,
	33554432, 67108864, 134217728, 268435456, 536870912, 1073741824, 2147483648,
]

_B := 4294967296

_HIGH := [
	1, _B, _B * _B, (_B * _B) * _B, ((_B * _B) * _B) * _B,
	_HIGH4 * _B, _HIGH4 * (_B * _B), _HIGH4 * ((_B * _B) * _B), _HIGH8,
	_HIGH8 * _B, _HIGH8 * (_B * _B), _HIGH8 * ((_B * _B) * _B), _HIGH8 * _HIGH4,
	_HIGH12 * _B, _HIGH12 * (_B * _B), _HIGH12 * ((_B * _B) * _B), _HIGH8 * _HIGH8,
	_HIGH16 * _B, _HIGH16 * (_B * _B),
]

_HIGH4 := ((_B * _B) * _B) * _B

_HIGH8 := _HIGH4 * _HIGH4

_HIGH12 := _HIGH8 * _HIGH4

_HIGH16 := _HIGH8 * _HIGH8

# 2^i for 0 <= i < 608.
_pow2(i) := _LOW[i % 32] * _HIGH[_idiv(i, 32)]

_lg(x, k, e) := k + e if {
	x >= _pow2(k + e)
} else := k

# floor(log2(x)) for 1 <= x < 2^512.
_log2(x) := _lg(x, _lg(x, _lg(x, _lg(x, _lg(x, _lg(x, _lg(x, _lg(x, _lg(x, 0, 256), 128), 64), 32), 16), 8), 4), 2), 1)

# floor(log2(n / d)) for n, d > 0.
_flog(n, d) := t if {
	t := _log2(n) - _log2(d)
	t >= 0
	n >= d * _pow2(t)
} else := t if {
	t := _log2(n) - _log2(d)
	t < 0
	n * _pow2(0 - t) >= d
} else := (_log2(n) - _log2(d)) - 1

_round_half_even(q, r, den) := q + 1 if {
	2 * r > den
} else := q + (q % 2) if {
	2 * r == den
} else := q

# [a div b, a mod b] for a 53-bit quotient: halved first, so that the
# estimate inside _idiv stays below 2^53 on every engine.
_divmod53(a, b) := [(2 * h) + 1, r - b] if {
	h := _idiv(a, 2 * b)
	r := a - ((2 * h) * b)
	r >= b
} else := [2 * h, a - ((2 * h) * b)] if {
	h := _idiv(a, 2 * b)
}

_flpos(n, d) := [m, _pow2(s)] if {
	s := 52 - _flog(n, d)
	s >= 0
	qr := _divmod53(n * _pow2(s), d)
	m := _round_half_even(qr[0], qr[1], d)
} else := [m * _pow2(0 - s), 1] if {
	s := 52 - _flog(n, d)
	den := d * _pow2(0 - s)
	qr := _divmod53(n, den)
	m := _round_half_even(qr[0], qr[1], den)
}

_fl(n, d) := [0, 1] if {
	n == 0
} else := _flpos(n, d) if {
	n > 0
} else := [0 - p[0], p[1]] if {
	p := _flpos(0 - n, d)
}

# float64 of a decimal config number (up to 9 decimals), as Go parses it.
_decf(v) := _fl(round(v * 1000000000), 1000000000)

_lt(a, b) if a[0] * b[1] < b[0] * a[1]

_le(a, b) if a[0] * b[1] <= b[0] * a[1]

_lt1(r) if r[0] < r[1]

_gt1(r) if r[0] > r[1]

# math.Ceil and int32() truncation of a rational.
_ceil(r) := _idiv((r[0] + r[1]) - 1, r[1]) if {
	r[0] >= 0
} else := 0 - _idiv(0 - r[0], r[1])

_trunc(r) := _idiv(r[0], r[1]) if {
	r[0] >= 0
} else := 0 - _idiv(0 - r[0], r[1])

# ceil(float64(ratio) * float64(count))
_ceil_times(ratio, n) := _ceil(_fl(ratio[0] * n, ratio[1]))

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

default _in := {}

_in := input if is_object(input)

_entity := _obj(object.get(_in, "entity", {}))

_sensors := _obj(object.get(_entity, "sensors", {}))

_scaling_raw := object.get(_obj(object.get(_entity, "config", {})), "scaling", null)

_sc := _obj(_scaling_raw)

_children := [_obj(c) | some c in _arr(object.get(_in, "children", []))]

_history := _obj(object.get(_obj(object.get(_in, "knowledge", {})), "history", {}))

# Recommendations history (oldest first); non-numeric entries are skipped.
_rec_history := [{"replicas": r, "time": t} |
	some h in _arr(object.get(_history, "recommendations", []))
	r := object.get(_obj(h), "replicas", null)
	t := object.get(_obj(h), "time", null)
	_is_int(r)
	is_number(t)
]

_events := [{"change": c, "time": t} |
	some h in _arr(object.get(_history, "scale_events", []))
	c := object.get(_obj(h), "change", null)
	t := object.get(_obj(h), "time", null)
	_is_int(c)
	is_number(t)
]

_now := n if {
	n := object.get(_in, "now", null)
	is_number(n)
	n >= -1000000000000000
	n <= 1000000000000000
}

# HPA's scale.spec.replicas.
current := r if {
	r := object.get(_sensors, "replicas", null)
	_nonneg_int(r)
}

_current_or_null := current

default _current_or_null := null

# HPA's scale.status.replicas: the observed_replicas sensor, else the
# number of members that are not ignored.
observed_replicas := v if {
	v := object.get(_sensors, "observed_replicas", null)
	_nonneg_int(v)
} else := count([c | some c in _children; not _lc(c) in _IGNORED])

_min_raw := object.get(_sc, "min_replicas", 1)

_max_raw := object.get(_sc, "max_replicas", null)

min_replicas := _min_raw if _nonneg_int(_min_raw)

max_replicas := _max_raw if _pos_int(_max_raw)

_metrics_list := m if {
	m := object.get(_sc, "metrics", null)
	is_array(m)
	count(m) > 0
}

_tol := _obj(object.get(_sc, "tolerance", {}))

# behavior.scaleUp/scaleDown.tolerance (HPA's configurable tolerance) wins
# over tolerance.scale_up/scale_down; both default to 0.1.
_tol_up_raw := _tol_from_behavior("scaleUp", object.get(_tol, "scale_up", 0.1))

_tol_down_raw := _tol_from_behavior("scaleDown", object.get(_tol, "scale_down", 0.1))

_tol_from_behavior(d, fallback) := t if {
	t := object.get(_obj(object.get(_obj(object.get(_sc, "behavior", {})), d, {})), "tolerance", null)
	t != null
} else := fallback

_legacy_window_raw := object.get(_sc, "downscale_stabilization_window_s", 300)

_factor_raw := object.get(_sc, "scale_up_limit_factor", 2)

_minimum_raw := object.get(_sc, "scale_up_limit_minimum", 4)

_small_number(x) if {
	is_number(x)
	x >= 0
	x <= 1000000
}

# Tolerance band: isWithin(r) is (1 - scaleDown) <= r <= (1 + scaleUp), in float64.
_hi := _fl(t[1] + t[0], t[1]) if {
	_small_number(_tol_up_raw)
	t := _decf(_tol_up_raw)
}

_lo := _fl(t[1] - t[0], t[1]) if {
	_small_number(_tol_down_raw)
	t := _decf(_tol_down_raw)
}

# Validated numbers (undefined when invalid, which makes the config misconfigured).
_legacy_window := _legacy_window_raw if _small_number(_legacy_window_raw)

_factor := _factor_raw if _small_number(_factor_raw)

_minimum := _minimum_raw if _small_number(_minimum_raw)

_within(r) if {
	_le(_lo, r)
	_le(r, _hi)
}

# ---------------------------------------------------------------------------
# behavior (HPA's spec.behavior, with HPA's defaults)
# ---------------------------------------------------------------------------

_beh_raw := object.get(_sc, "behavior", null)

_has_behavior if _beh_raw != null

_beh := _obj(_beh_raw)

_dir_raw(d) := object.get(_beh, d, null)

_dir(d) := _obj(_dir_raw(d))

_window(d) := w if {
	w := object.get(_dir(d), "stabilizationWindowSeconds", null)
	_window_ok(w)
} else := 0 if {
	d == "scaleUp"
} else := _legacy_window

_select(d) := s if {
	s := object.get(_dir(d), "selectPolicy", null)
	s != null
} else := "Max"

_policies(d) := p if {
	p := object.get(_dir(d), "policies", null)
	_policies_ok(p)
} else := [
	{"type": "Pods", "value": 4, "periodSeconds": 15},
	{"type": "Percent", "value": 100, "periodSeconds": 15},
] if {
	d == "scaleUp"
} else := [{"type": "Percent", "value": 100, "periodSeconds": 15}]

_valid_policy(p) if {
	is_object(p)
	object.get(p, "type", null) in {"Pods", "Percent"}
	_pos_int(object.get(p, "value", null))
	ps := object.get(p, "periodSeconds", null)
	_pos_int(ps)
	ps <= 1800
}

# ---------------------------------------------------------------------------
# Configuration problems: any of them makes the decision a no-op
# ---------------------------------------------------------------------------

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

_problem contains "tolerance must be an object" if {
	object.get(_sc, "tolerance", {}) != null
	not is_object(object.get(_sc, "tolerance", {}))
}

_problem contains "tolerance.scale_up (or behavior.scaleUp.tolerance) must be a number in [0, 1e6]" if not _small_number(_tol_up_raw)

_problem contains "tolerance.scale_down (or behavior.scaleDown.tolerance) must be a number in [0, 1e6]" if not _small_number(_tol_down_raw)

_problem contains "downscale_stabilization_window_s must be a number >= 0" if not _small_number(_legacy_window_raw)

_problem contains "scale_up_limit_factor must be a number >= 0" if not _small_number(_factor_raw)

_problem contains "scale_up_limit_minimum must be a number >= 0" if not _small_number(_minimum_raw)

_problem contains "behavior must be an object" if {
	_has_behavior
	not is_object(_beh_raw)
}

_problem contains sprintf("behavior.%s must be an object", [d]) if {
	some d in ["scaleUp", "scaleDown"]
	_dir_raw(d) != null
	not is_object(_dir_raw(d))
}

_problem contains sprintf("behavior.%s.stabilizationWindowSeconds must be an integer in [0, 3600]", [d]) if {
	some d in ["scaleUp", "scaleDown"]
	w := object.get(_dir(d), "stabilizationWindowSeconds", null)
	w != null
	not _window_ok(w)
}

_window_ok(w) if {
	_nonneg_int(w)
	w <= 3600
}

_problem contains sprintf("behavior.%s.selectPolicy must be Max, Min or Disabled", [d]) if {
	some d in ["scaleUp", "scaleDown"]
	s := object.get(_dir(d), "selectPolicy", null)
	s != null
	not s in {"Max", "Min", "Disabled"}
}

_problem contains sprintf("behavior.%s.policies must be a non-empty list of {type: Pods|Percent, value > 0, periodSeconds in [1, 1800]}", [d]) if {
	some d in ["scaleUp", "scaleDown"]
	p := object.get(_dir(d), "policies", null)
	p != null
	not _policies_ok(p)
}

_policies_ok(p) if {
	is_array(p)
	count(p) > 0
	count([x | some x in p; not _valid_policy(x)]) == 0
}

_misconfigured if count(_problem) > 0

# ---------------------------------------------------------------------------
# Members (pods): HPA's groupPods
# ---------------------------------------------------------------------------

_IGNORED := {"stopping", "stopped", "on_fire"}

_PENDING := {"created", "starting"}

_lc(c) := l if {
	l := object.get(c, "lifecycle", "running")
	is_string(l)
} else := "running"

_member_sensors(c) := _obj(object.get(c, "sensors", {}))

_member_value_ok(c, s) if _valid_value(object.get(_member_sensors(c), s, null))

_is_ready(c) if object.get(c, "ready", false) == true

# ignored (deleted/failed pods), unready (pending pods), missing (no metric),
# unready (not ready), ready.
_class(c, s) := "ignored" if {
	_lc(c) in _IGNORED
} else := "unready" if {
	_lc(c) in _PENDING
} else := "missing" if {
	not _member_value_ok(c, s)
} else := "unready" if {
	not _is_ready(c)
} else := "ready"

_cid(c, idx) := id if {
	id := object.get(c, "id", null)
	is_string(id)
} else := sprintf("#%d", [idx])

_mvalue(c, s, cl) := _milli(object.get(_member_sensors(c), s, null)) if {
	cl == "ready"
} else := null

_mrequest(c, m) := _milli(r) if {
	rs := object.get(m, "request_sensor", null)
	is_string(rs)
	r := object.get(_member_sensors(c), rs, null)
	_valid_value(r)
} else := null

_items(m) := [{"id": _cid(c, idx), "class": cl, "v": _mvalue(c, m.sensor, cl), "req": _mrequest(c, m)} |
	some idx, c in _children
	cl := _class(c, m.sensor)
]

_of_class(items, cl) := [x | some x in items; x.class == cl]

# GetReadyPodsCount: running and ready pods.
_ready_pods := count([c |
	some c in _children
	not _lc(c) in _IGNORED
	not _lc(c) in _PENDING
	_is_ready(c)
])

# ---------------------------------------------------------------------------
# One metric: HPA's replica calculator
# ---------------------------------------------------------------------------

_source(m) := object.get(m, "source", "members")

_ttype(m) := object.get(_obj(object.get(m, "target", null)), "type", null)

_spec_error(m) := "metric must be an object" if {
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

_eval(m) := _invalid(e) if {
	e := _spec_error(m)
	e != ""
} else := _eval_utilization(m) if {
	_ttype(m) == "Utilization"
} else := _eval_average(m) if {
	_ttype(m) == "AverageValue"
	_source(m) == "members"
} else := _eval_object_value(m) if {
	_ttype(m) == "Value"
} else := _eval_object_average(m) if {
	_ttype(m) == "AverageValue"
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

# --- Resource / Utilization (GetResourceReplicas) ---

# int32((usage * 100) / requests), clamped to the int32 range as upstream does.
_percent(usage, requests) := 2147483647 if {
	usage * 100 > requests * 2147483647
} else := _idiv(usage * 100, requests)

_eval_utilization(m) := _invalid("no members") if {
	count(_children) == 0
} else := _invalid(sprintf("no ready member reports %s", [m.sensor])) if {
	count(_of_class(_items(m), "ready")) == 0
} else := _invalid(sprintf("member %s has no valid %s", [ids[0], m.request_sensor])) if {
	ids := [x.id | some x in _of_class(_items(m), "ready"); x.req == null]
	count(ids) > 0
} else := _invalid(sprintf("the %s of the ready members sum to zero", [m.request_sensor])) if {
	sum([x.req | some x in _of_class(_items(m), "ready")]) == 0
} else := _utilization_result(m, _items(m))

_utilization_result(m, items) := object.union(r, {"utilization": util}) if {
	ready := _of_class(items, "ready")
	t := m.target.averageUtilization
	util := _percent(sum([x.v | some x in ready]), sum([x.req | some x in ready]))
	ratio := _fl(util, t)
	r := _utilization_replicas(t, ratio, ready, _of_class(items, "unready"), _of_class(items, "missing"))
}

_utilization_replicas(t, ratio, ready, unready, missing) := _ok(current, true, {}) if {
	not _scale_up_with_unready(unready, ratio)
	count(missing) == 0
	_within(ratio)
} else := _ok(_ceil_times(ratio, count(ready)), false, {}) if {
	not _scale_up_with_unready(unready, ratio)
	count(missing) == 0
} else := _invalid(sprintf("member %s has no valid request", [ids[0]])) if {
	ids := [x.id | some x in _utilization_added(t, ratio, unready, missing); x.req == null]
	count(ids) > 0
} else := _utilization_recomputed(t, ratio, array.concat(ready, _utilization_added(t, ratio, unready, missing)))

# Missing pods: 100% of the request (or the target, when above 100%) on a
# scale-down, 0 on a scale-up; unready pods: 0 on a scale-up.
_utilization_added(t, ratio, unready, missing) := array.concat(
	_utilization_missing(t, ratio, missing),
	_unready_zero(ratio, unready),
)

_utilization_missing(t, ratio, missing) := [{"id": x.id, "v": _idiv(x.req * max([100, t]), 100), "req": x.req} |
	some x in missing
	x.req != null
] if {
	_lt1(ratio)
	count([x | some x in missing; x.req == null]) == 0
} else := [{"id": x.id, "v": null, "req": null} | some x in missing] if {
	_lt1(ratio)
} else := [{"id": x.id, "v": 0, "req": x.req} | some x in missing] if {
	_gt1(ratio)
} else := []

_unready_zero(ratio, unready) := [{"id": x.id, "v": 0, "req": x.req} | some x in unready] if {
	_scale_up_with_unready(unready, ratio)
} else := []

_utilization_recomputed(t, ratio, all) := _ok(current, true, {}) if {
	new_ratio := _fl(_percent(sum([x.v | some x in all]), sum([x.req | some x in all])), t)
	_hold(ratio, new_ratio)
} else := _ok(current, true, {}) if {
	new_ratio := _fl(_percent(sum([x.v | some x in all]), sum([x.req | some x in all])), t)
	_flips(new_ratio, _ceil_times(new_ratio, count(all)))
} else := _ok(_ceil_times(new_ratio, count(all)), false, {}) if {
	new_ratio := _fl(_percent(sum([x.v | some x in all]), sum([x.req | some x in all])), t)
}

# --- Pods / Resource AverageValue (calcPlainMetricReplicas) ---

_eval_average(m) := _invalid("no members") if {
	count(_children) == 0
} else := _invalid(sprintf("no ready member reports %s", [m.sensor])) if {
	count(_of_class(_items(m), "ready")) == 0
} else := _average_result(m, _items(m))

_average_result(m, items) := object.union(r, {"value": usage / 1000}) if {
	ready := _of_class(items, "ready")
	t := _milli(m.target.averageValue)
	usage := _idiv(sum([x.v | some x in ready]), count(ready))
	ratio := _fl(usage, t)
	r := _average_replicas(t, ratio, ready, _of_class(items, "unready"), _of_class(items, "missing"))
}

_average_replicas(t, ratio, ready, unready, missing) := _ok(current, true, {}) if {
	not _scale_up_with_unready(unready, ratio)
	count(missing) == 0
	_within(ratio)
} else := _ok(_ceil_times(ratio, count(ready)), false, {}) if {
	not _scale_up_with_unready(unready, ratio)
	count(missing) == 0
} else := _average_recomputed(t, ratio, array.concat(ready, array.concat(_average_missing(t, ratio, missing), _unready_zero(ratio, unready))))

_average_missing(t, ratio, missing) := [{"id": x.id, "v": t} | some x in missing] if {
	_lt1(ratio)
} else := [{"id": x.id, "v": 0} | some x in missing] if {
	_gt1(ratio)
} else := []

_average_recomputed(t, ratio, all) := _ok(current, true, {}) if {
	new_ratio := _fl(_idiv(sum([x.v | some x in all]), count(all)), t)
	_hold(ratio, new_ratio)
} else := _ok(current, true, {}) if {
	new_ratio := _fl(_idiv(sum([x.v | some x in all]), count(all)), t)
	_flips(new_ratio, _ceil_times(new_ratio, count(all)))
} else := _ok(_ceil_times(new_ratio, count(all)), false, {}) if {
	new_ratio := _fl(_idiv(sum([x.v | some x in all]), count(all)), t)
}

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
} else := _ok(current, true, {}) if {
	_within(ratio)
} else := _invalid("no members") if {
	count(_children) == 0
} else := _ok(_ceil_times(ratio, _ready_pods), false, {})

# --- Object / External AverageValue (GetObjectPerPodMetricReplicas, GetExternalPerPodMetricReplicas) ---

_eval_object_average(m) := _invalid(sprintf("sensor %s of the cluster has no value", [m.sensor])) if {
	not _self_value(m)
} else := _object_average_result(_milli(_self_value(m)), _milli(m.target.averageValue), observed_replicas)

_object_average_result(usage, t, status) := _ok(_ceil(_fl(usage, t)), false, {"value": usage / 1000}) if {
	status == 0
} else := _ok(status, true, {"value": _idiv((usage + status) - 1, status) / 1000}) if {
	per := _fl(t * status, 1)
	_within(_fl(usage * per[1], per[0]))
} else := _ok(_ceil(_fl(usage, t)), false, {"value": _idiv((usage + status) - 1, status) / 1000})

# ---------------------------------------------------------------------------
# All metrics (computeReplicasForMetrics)
# ---------------------------------------------------------------------------

_results := [_eval(m) | some m in _metrics_list]

_valid_proposals := [r.replicas | some r in _results; r.valid == true]

_invalid_count := count(_results) - count(_valid_proposals)

_str_or_null(x) := x if {
	is_string(x)
} else := null

_measure_key(m) := "utilization" if {
	_ttype(m) == "Utilization"
} else := "value"

# One entry per configured metric, in order.
recommendations := [entry |
	some idx, m in _metrics_list
	r := _results[idx]
	key := _measure_key(_obj(m))
	entry := {
		"index": idx,
		"sensor": _str_or_null(object.get(_obj(m), "sensor", null)),
		"source": _str_or_null(_source(_obj(m))),
		"target_type": _str_or_null(_ttype(_obj(m))),
		"replicas": object.get(r, "replicas", null),
		"valid": r.valid,
		"error": object.get(r, "error", null),
		key: object.get(r, key, null),
	}
] if {
	not _misconfigured
}

default recommendations := []

# Which class each member got, per metric (HPA's groupPods), for explanation.
member_classes := [[{"id": x.id, "class": x.class} | some x in _items(m)] |
	some m in _metrics_list
	is_object(m)
	_nonempty_string(object.get(m, "sensor", null))
]

default member_classes := []

# ---------------------------------------------------------------------------
# Stabilization and limits (normalizeDesiredReplicas[WithBehaviors])
# ---------------------------------------------------------------------------

_recommendation := max([0, max(_valid_proposals)])

# Legacy: max of the recommendations of the last window (cutoff included).
_legacy_stabilized := max(array.concat([_recommendation], [h.replicas |
	some h in _rec_history
	h.time >= _now - _legacy_window
]))

# Behavior: lower bound from the scale-up window, upper bound from the
# scale-down window (samples strictly newer than the cutoff).
_up_bound := min(array.concat([_recommendation], [h.replicas |
	some h in _rec_history
	h.time > _now - _window("scaleUp")
]))

_down_bound := max(array.concat([_recommendation], [h.replicas |
	some h in _rec_history
	h.time > _now - _window("scaleDown")
]))

_raise(x, lower) := lower if {
	x < lower
} else := x

_cap(x, upper) := upper if {
	x > upper
} else := x

_behavior_stabilized := _cap(_raise(current, _up_bound), _down_bound)

_stabilized := _behavior_stabilized if {
	_has_behavior
} else := _legacy_stabilized

# Legacy scale-up limit: int32(max(factor * current, minimum)).
_legacy_up_limit := _trunc(m) if {
	f := _decf(_factor)
	p := _fl(f[0] * current, f[1])
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

# Replicas added / removed by the resizes of the last period (strictly newer).
_added(period) := sum([e.change | some e in _events; e.change > 0; e.time > _now - period])

_deleted(period) := sum([d | some e in _events; e.change < 0; e.time > _now - period; d := 0 - e.change])

_period_start(p) := (current - _added(p.periodSeconds)) + _deleted(p.periodSeconds)

_up_proposal(p) := _period_start(p) + p.value if {
	p.type == "Pods"
} else := _ceil(_fl(_period_start(p) * f[0], f[1])) if {
	a := _fl(p.value, 100)
	f := _fl(a[1] + a[0], a[1])
}

_down_proposal(p) := _period_start(p) - p.value if {
	p.type == "Pods"
} else := _trunc(_fl(_period_start(p) * f[0], f[1])) if {
	a := _fl(p.value, 100)
	f := _fl(a[1] - a[0], a[1])
}

# calculateScaleUpLimitWithScalingRules
_scale_up_limit := current if {
	_select("scaleUp") == "Disabled"
} else := min([_up_proposal(p) | some p in _policies("scaleUp")]) if {
	_select("scaleUp") == "Min"
} else := max([_up_proposal(p) | some p in _policies("scaleUp")])

# calculateScaleDownLimitWithBehaviors
_scale_down_limit := current if {
	_select("scaleDown") == "Disabled"
} else := max([_down_proposal(p) | some p in _policies("scaleDown")]) if {
	_select("scaleDown") == "Min"
} else := min([_down_proposal(p) | some p in _policies("scaleDown")])

_up_limit_reason := "scale-up disabled" if {
	_select("scaleUp") == "Disabled"
} else := "limited by scale-up policy"

_down_limit_reason := "scale-down disabled" if {
	_select("scaleDown") == "Disabled"
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
	_has_behavior
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

default desired_replicas := null

desired_replicas := _outcome.desired

default reason := "misconfigured"

reason := _outcome.reason

# The unstabilized recommendation HPA records (null when HPA records none).
default recommendation := null

recommendation := _outcome.recommendation

# The recommendation after the stabilization window(s), before the limits.
default stabilized_recommendation := null

stabilized_recommendation := _outcome.stabilized

_actions := [{
	"target": "self",
	"effector": "resize",
	"args": {"replicas": desired_replicas},
	"reason": sprintf("%s: %d -> %d replicas", [reason, current, desired_replicas]),
}] if {
	not _misconfigured
	desired_replicas != current
} else := []

_LIMIT_REASONS := {
	"limited by min_replicas", "limited by max_replicas", "limited by scale-up limit",
	"limited by scale-up policy", "limited by scale-down policy", "scale-up disabled",
	"scale-down disabled", "current above max_replicas", "current below min_replicas",
}

_symptoms_misconfigured := [{
	"name": "misconfigured",
	"severity": "warning",
	"detail": {"problems": sort([p | some p in _problem])},
}] if {
	_misconfigured
} else := []

_symptoms_invalid := [{
	"name": "metric_invalid",
	"severity": "warning",
	"detail": {"index": e.index, "sensor": e.sensor, "error": e.error},
} |
	not reason in _METRICLESS_REASONS
	some e in recommendations
	e.valid == false
]

# Stages where HPA does not look at the metrics.
_METRICLESS_REASONS := {"misconfigured", "scaling disabled", "current above max_replicas", "current below min_replicas"}

_symptoms_limited := [{
	"name": "scaling_limited",
	"severity": "info",
	"detail": {
		"reason": reason,
		"recommendation": recommendation,
		"stabilized": stabilized_recommendation,
		"desired_replicas": desired_replicas,
	},
}] if {
	reason in _LIMIT_REASONS
} else := []

_symptoms_inactive := [{
	"name": "scaling_inactive",
	"severity": "warning",
	"detail": {"reason": reason, "invalid_metrics": _invalid_count},
}] if {
	reason in {"no valid metrics", "invalid metric blocks scale-down"}
} else := [{
	"name": "scaling_inactive",
	"severity": "info",
	"detail": {"reason": reason, "invalid_metrics": 0},
}] if {
	reason == "scaling disabled"
} else := []

decision := {
	"symptoms": array.concat(
		array.concat(_symptoms_misconfigured, _symptoms_invalid),
		array.concat(_symptoms_limited, _symptoms_inactive),
	),
	"actions": _actions,
	"escalate": [],
	"remember": {},
	"desired_replicas": desired_replicas,
	"recommendation": recommendation,
	"reason": reason,
}
