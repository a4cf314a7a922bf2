# Threshold autoscaling with Apache Brooklyn AutoScalerPolicy semantics.
#
# A per-member metric is kept between a lower and an upper bound. Above the
# upper bound the pool is "hot" and grows to the smallest size that brings the
# metric back under the upper bound; below the lower bound it is "cold" and
# shrinks to the largest size that keeps the metric above the lower bound,
# without shrinking so far that it would immediately be hot again. Steps are
# shaped by increments and maxima, sizes are clamped to the pool limits and to
# the capacity high-water mark, and proposals are stabilized over time windows
# before anything is resized.
#
# Reference: docs/policies/bounds.md. Contract: docs/policies.md.
package autonomic.scaling.bounds

import rego.v1

# Brooklyn's sizes are Java ints: every unbounded size saturates at this value
# and it is the default of max_pool_size, resize_up_max and resize_down_max.
int_max := 2147483647

remember_key := "autonomic.scaling.bounds.max_size_reported"

known_keys := {
	"metric",
	"lower_bound",
	"upper_bound",
	"min_pool_size",
	"max_pool_size",
	"resize_up_increment",
	"resize_up_max",
	"resize_down_increment",
	"resize_down_max",
	"resize_up_stabilization_s",
	"resize_down_stabilization_s",
}

# ---------------------------------------------------------------- helpers

_is_count(v) if {
	is_number(v)
	v >= 0
	v <= int_max
	floor(v) == v
}

_is_positive_count(v) if {
	_is_count(v)
	v >= 1
}

_is_nonneg_number(v) if {
	is_number(v)
	v >= 0
}

# Saturate a (possibly huge or infinite) ratio to Brooklyn's int range.
_saturate(x) := max([min([x, int_max]), -1 - int_max])

# floor and ceil that agree on both engines: OPA's built-ins round values
# between -1 and 0 the wrong way (floor(-0.5) is 0, ceil(-0.5) is 1).
_floor(x) := floor(x) if {
	x >= 0
} else := 0 - ceil(0 - x)

_ceil(x) := ceil(x) if {
	x >= 0
} else := 0 - floor(0 - x)

# A number for a reason string, printed alike by both engines (OPA prints
# 1000000.0 as 1e+06, regorus as 1000000).
_fmt(x) := format_int(x, 10) if {
	is_number(x)
	x == floor(x)
	abs(x) < 1e15
} else := sprintf("%v", [x])

# ---------------------------------------------------------------- config

config := c if {
	c := input.entity.config.bounds_scaling
	is_object(c)
}

# Whether a config key is given (present and not null).
_has(key) if config[key] != null

# A config value that is given.
_given(key) := config[key] if _has(key)

metric := m if {
	m := _given("metric")
	is_string(m)
	m != ""
}

# A bound counts only if it is a number > 0.
lower_bound := b if {
	b := _given("lower_bound")
	is_number(b)
	b > 0
}

upper_bound := b if {
	b := _given("upper_bound")
	is_number(b)
	b > 0
}

# Effective values are always well typed: an invalid value falls back to the
# default here and is reported by config_problems (which stops the policy).
min_pool_size := v if {
	v := _given("min_pool_size")
	_is_count(v)
} else := 1

max_pool_size := v if {
	v := _given("max_pool_size")
	_is_count(v)
} else := int_max

resize_up_increment := v if {
	v := _given("resize_up_increment")
	_is_positive_count(v)
} else := 1

resize_up_max := v if {
	v := _given("resize_up_max")
	_is_positive_count(v)
} else := int_max

resize_down_increment := v if {
	v := _given("resize_down_increment")
	_is_positive_count(v)
} else := 1

resize_down_max := v if {
	v := _given("resize_down_max")
	_is_positive_count(v)
} else := int_max

resize_up_stabilization_s := v if {
	v := _given("resize_up_stabilization_s")
	_is_nonneg_number(v)
} else := 0

resize_down_stabilization_s := v if {
	v := _given("resize_down_stabilization_s")
	_is_nonneg_number(v)
} else := 0

_problem_set contains "metric must be a non-empty string" if {
	_has("metric")
	not metric
}

_problem_set contains msg if {
	some key in ["lower_bound", "upper_bound"]
	v := _given(key)
	not is_number(v)
	msg := sprintf("%s must be a number", [key])
}

_problem_set contains msg if {
	some key in ["min_pool_size", "max_pool_size"]
	v := _given(key)
	not _is_count(v)
	msg := sprintf("%s must be an integer between 0 and %d", [key, int_max])
}

_problem_set contains msg if {
	some key in ["resize_up_increment", "resize_up_max", "resize_down_increment", "resize_down_max"]
	v := _given(key)
	not _is_positive_count(v)
	msg := sprintf("%s must be an integer between 1 and %d", [key, int_max])
}

_problem_set contains msg if {
	some key in ["resize_up_stabilization_s", "resize_down_stabilization_s"]
	v := _given(key)
	not _is_nonneg_number(v)
	msg := sprintf("%s must be a number of seconds >= 0", [key])
}

_problem_set contains "min_pool_size must not be greater than max_pool_size" if {
	min_pool_size > max_pool_size
}

_problem_set contains msg if {
	some key, _ in config
	not key in known_keys
	msg := sprintf("unknown key %s", [key])
}

# Sorted, so both engines give the same order.
config_problems := sort([p | some p in _problem_set])

# ---------------------------------------------------------------- readings

_sensors := s if {
	s := input.entity.sensors
	is_object(s)
}

_sensor_or_null(name) := v if {
	v := _sensors[name]
} else := null

# The current size: the cluster's replicas sensor.
current_size := r if {
	r := _sensors.replicas
	_is_count(r)
}

# The per-member metric value.
metric_value := v if {
	v := _sensors[metric]
	is_number(v)
}

# Size a resize reached before failing for lack of capacity (absent or null:
# no cap). Brooklyn: autoscaler.insufficientCapacityHighWaterMark.
capacity_high_water_mark := floor(max([h, 0])) if {
	h := _sensors.capacity_high_water_mark
	is_number(h)
}

now := t if {
	t := input.now
	is_number(t)
}

_now_or_null := t if {
	t := input.now
} else := null

# ---------------------------------------------------------------- status

status := "config_missing" if {
	not config
} else := "config_missing" if {
	not _has("metric")
} else := "config_invalid" if {
	count(config_problems) > 0
} else := "replicas_unknown" if {
	not current_size
} else := "metric_unknown" if {
	not metric_value
} else := "time_unknown" if {
	not now
} else := "ok"

_ok if status == "ok"

# ---------------------------------------------------------------- analysis

# Total activity of the pool (Brooklyn's getCurrentTotalActivity).
total := metric_value * current_size if _ok

# Hot: the metric is above the upper bound (only if that bound counts).
hot if {
	_ok
	metric_value > upper_bound
}

# Cold: the metric is below the lower bound (only if that bound counts).
# Hot wins when both hold (bounds configured the wrong way round).
cold if {
	_ok
	not hot
	metric_value < lower_bound
}

# The unbounded proposal (Brooklyn's desiredSizeUnconstrained): the smallest
# size that keeps the metric at or under the upper bound when hot, the largest
# that keeps it at or above the lower bound when cold, else the current size.
ideal_size := _ceil(_saturate(total / upper_bound)) if {
	hot
} else := _floor(_saturate(total / lower_bound)) if {
	cold
} else := current_size if {
	_ok
}

# Brooklyn's applyMinMaxConstraints: min first, then max, then the
# high-water mark (which therefore wins over min_pool_size).
_clamp(n) := _cap_hwm(min([max([n, min_pool_size]), max_pool_size]))

_cap_hwm(n) := min([n, h]) if {
	h := capacity_high_water_mark
} else := n

# Brooklyn's step shaping: a step larger than the maximum becomes the
# maximum, any other step is rounded up to a multiple of the increment (which
# can exceed the maximum when the maximum is not a multiple of the increment).
_shape_step(delta, inc, most) := most if {
	delta > most
} else := delta if {
	delta % inc == 0
} else := (delta + inc) - (delta % inc)

_hot_target := t if {
	hot
	c := _clamp(ideal_size)
	c > current_size
	t := _clamp(current_size + _shape_step(c - current_size, resize_up_increment, resize_up_max))
	t > current_size
}

# Smallest size at which the pool would not be hot (ceil(total / upper)).
_not_hot_size := _ceil(_saturate(total / upper_bound)) if _ok

# Brooklyn's anti-thrashing loop, in closed form: starting from d, add the
# down increment while the size is below the current size and the metric at
# that size would be above the upper bound.
_anti_thrash(d, inc) := d + (inc * min([ceil(max([0, need - d]) / inc), ceil((current_size - d) / inc)])) if {
	need := _not_hot_size
} else := d

_cold_target := t if {
	cold
	c := _clamp(ideal_size)
	c < current_size
	inc := resize_down_increment
	d := current_size - _shape_step(current_size - c, inc, resize_down_max)
	t := _clamp(_anti_thrash(d, inc))
	t < current_size
}

# The proposal before stabilization. A cold reading never proposes growth, a
# hot one never proposes shrinking; an in-range or blocked reading proposes
# the current size.
recommendation := t if {
	t := _hot_target
} else := t if {
	t := _cold_target
} else := current_size if {
	_ok
}

# ---------------------------------------------------------------- stabilization

_raw_history := h if {
	h := input.knowledge.history.desired_sizes
	is_array(h)
} else := []

history := [e |
	some e in _raw_history
	is_object(e)
	is_number(e.size)
	is_number(e.time)
]

# The history with this round's recommendation counted at now.
_series := array.concat(history, [{"size": recommendation, "time": now}]) if _ok

# Sizes in a window of w seconds: the latest value at or before now - w plus
# every later value. Undefined while the history does not cover the window.
window_sizes(w) := [_series[j].size | some j in numbers.range(i, count(_series) - 1)] if {
	covered := [k | some k, e in _series; e.time <= now - w]
	count(covered) > 0
	i := max(covered)
}

# Sustained growth: the smallest size asked for over the up window.
grow_to := min(window_sizes(resize_up_stabilization_s))

# Sustained shrink: the largest size asked for over the down window.
shrink_to := max(window_sizes(resize_down_stabilization_s))

stabilized_size := s if {
	s := grow_to
	current_size < s
} else := s if {
	s := shrink_to
	current_size > s
} else := current_size if {
	_ok
}

# The size to resize to: the stabilized size within the pool limits and the
# capacity high-water mark (Brooklyn's resizeNow).
desired_size := _clamp(stabilized_size)

# ---------------------------------------------------------------- symptoms

_over_max if ideal_size > max_pool_size

_max_reported if input.knowledge.remembered[remember_key] == true

_report_max if {
	_over_max
	not _max_reported
}

_status_symptoms := [] if {
	_ok
} else := [{
	"name": "bounds_config_missing",
	"severity": "warning",
	"detail": {"missing": "bounds_scaling"},
}] if {
	not config
} else := [{
	"name": "bounds_config_missing",
	"severity": "warning",
	"detail": {"missing": "bounds_scaling.metric"},
}] if {
	status == "config_missing"
} else := [{
	"name": "bounds_config_invalid",
	"severity": "warning",
	"detail": {"problems": config_problems},
}] if {
	status == "config_invalid"
} else := [{
	"name": "replicas_unknown",
	"severity": "warning",
	"detail": {"sensor": "replicas", "value": _sensor_or_null("replicas")},
}] if {
	status == "replicas_unknown"
} else := [{
	"name": "metric_unknown",
	"severity": "info",
	"detail": {"metric": metric, "value": _sensor_or_null(metric)},
}] if {
	status == "metric_unknown"
} else := [{
	"name": "time_unknown",
	"severity": "warning",
	"detail": {"now": _now_or_null},
}]

_load_symptoms := [{
	"name": "pool_hot",
	"severity": "warning",
	"detail": {
		"metric": metric,
		"value": metric_value,
		"upper_bound": upper_bound,
		"replicas": current_size,
		"ideal_size": ideal_size,
	},
}] if {
	hot
} else := [{
	"name": "pool_cold",
	"severity": "info",
	"detail": {
		"metric": metric,
		"value": metric_value,
		"lower_bound": lower_bound,
		"replicas": current_size,
		"ideal_size": ideal_size,
	},
}] if {
	cold
} else := []

_max_symptoms := [{
	"name": "max_size_reached",
	"severity": "warning",
	"detail": {
		"replicas": current_size,
		"max_pool_size": max_pool_size,
		"ideal_size": ideal_size,
	},
}] if {
	_report_max
} else := []

symptoms := array.concat(_status_symptoms, array.concat(_load_symptoms, _max_symptoms))

# Report max_size_reached once; forget it when the proposal is back within max.
remember := {remember_key: true} if {
	_report_max
} else := {remember_key: false} if {
	_ok
	not _over_max
	_max_reported
} else := {}

# ---------------------------------------------------------------- reason

_reading := sprintf("%s=%s per member at %s replicas is above upper_bound %s (ideal size %s)", [metric, _fmt(metric_value), _fmt(current_size), _fmt(upper_bound), _fmt(ideal_size)]) if {
	hot
} else := sprintf("%s=%s per member at %s replicas is below lower_bound %s (ideal size %s)", [metric, _fmt(metric_value), _fmt(current_size), _fmt(lower_bound), _fmt(ideal_size)]) if {
	cold
} else := sprintf("%s=%s per member at %s replicas is within bounds", [metric, _fmt(metric_value), _fmt(current_size)]) if {
	_ok
}

_outcome := sprintf("resize from %s to %s replicas", [_fmt(current_size), _fmt(desired_size)]) if {
	desired_size != current_size
} else := sprintf("keep %s replicas (recommendation %s held back by stabilization)", [_fmt(current_size), _fmt(recommendation)]) if {
	recommendation != current_size
} else := sprintf("keep %s replicas", [_fmt(current_size)]) if {
	_ok
}

reason := sprintf("%s: recommendation %s, desired size %s; %s", [_reading, _fmt(recommendation), _fmt(desired_size), _outcome]) if {
	_ok
} else := "no bounds_scaling config: nothing to do" if {
	not config
} else := "bounds_scaling.metric is not set: nothing to do" if {
	status == "config_missing"
} else := sprintf("bounds_scaling config is invalid (%s): nothing to do", [concat("; ", config_problems)]) if {
	status == "config_invalid"
} else := "the replicas sensor is unknown: nothing to do" if {
	status == "replicas_unknown"
} else := sprintf("metric %s has no value: nothing to do", [metric]) if {
	status == "metric_unknown"
} else := "input.now is not a number: nothing to do"

# ---------------------------------------------------------------- decision

actions := [{
	"target": "self",
	"effector": "resize",
	"args": {"replicas": desired_size},
	"reason": reason,
}] if {
	desired_size != current_size
} else := []

_desired_out := d if {
	d := desired_size
} else := null

_recommendation_out := r if {
	r := recommendation
} else := null

decision := {
	"symptoms": symptoms,
	"actions": actions,
	"escalate": [],
	"remember": remember,
	"desired_size": _desired_out,
	"recommendation": _recommendation_out,
	"reason": reason,
}
