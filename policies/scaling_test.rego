# Tests for autonomic.scaling.
#
# test_k8s_<GoTest>[_<case>] rules are ports of Kubernetes' own HPA tests
# (pkg/controller/podautoscaler/replica_calculator_test.go and
# horizontal_test.go). Mapping used throughout:
#   pod                          -> child (member)
#   Running + Ready              -> lifecycle running, ready true
#   Ready=False or "hot CPU" pod -> ready false      (CPU metrics only: HPA
#                                   ignores readiness for other metrics, so
#                                   ports of custom-metric tests keep ready true)
#   Pending pod                  -> lifecycle starting
#   Failed pod                   -> lifecycle on_fire
#   pod with deletionTimestamp   -> lifecycle stopping
#   pod without metrics          -> sensor absent
#   Resource/Utilization         -> source members, Utilization
#   Pods metric                  -> source members, AverageValue
#   Object/External Value        -> source self, Value
#   Object/External AverageValue -> source self, AverageValue
#   milli-quantities             -> base units (20000m -> 20)
#   spec.replicas                -> sensor replicas; status.replicas -> observed_replicas
#   recommendations nil          -> history seeded with the current replicas now
#   horizontal_test.go's init() sets scaleUpLimitFactor = 8, so the legacy
#   ports set scale_up_limit_factor: 8.
# Unit tests of a single Go function (stabilization, rate limits) are ported
# through the full pipeline, with a cluster AverageValue metric of target 1
# whose value is the wanted prenormalized recommendation.
#
# The other test_* rules cover the rest of the policy: configuration errors,
# output shape, float64 corner cases, tolerances, windows and reasons.

package autonomic.scaling_test

import data.autonomic.scaling
import rego.v1

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

_now := 1700000000

_R := "running"

_input(cfg, sensors, children, recs, events) := {
	"now": _now,
	"entity": {
		"id": "shop/web",
		"name": "web",
		"type": "web-cluster",
		"config": {"scaling": cfg},
		"lifecycle": "running",
		"sensors": sensors,
	},
	"children": children,
	"knowledge": {"history": {"recommendations": recs, "scale_events": events}},
	"events": [],
}

_opt(k, arr, idx) := {k: arr[idx]} if {
	idx < count(arr)
	arr[idx] != null
} else := {}

_pod(idx, lc, ready, sensors) := {
	"id": sprintf("shop/web/p%d", [idx]),
	"name": sprintf("p%d", [idx]),
	"lifecycle": lc,
	"ready": ready,
	"sensors": sensors,
}

# Pods with cpu (usage) and cpu_req (request) sensors; one pod per entry of
# lcs; levels/reqs may be shorter (missing) or hold null.
_cpu_pods(levels, reqs, ready, lcs) := [_pod(idx, lc, ready[idx], object.union(_opt("cpu", levels, idx), _opt("cpu_req", reqs, idx))) |
	some idx, lc in lcs
]

_qps_pods(levels, ready, lcs) := [_pod(idx, lc, ready[idx], _opt("qps", levels, idx)) | some idx, lc in lcs]

_n(x, k) := [x | some _ in numbers.range(1, k)]

_running(k) := _n(_R, k)

_ready(k) := _n(true, k)

_util(t) := {"sensor": "cpu", "request_sensor": "cpu_req", "target": {"type": "Utilization", "averageUtilization": t}}

_avg(t) := {"sensor": "qps", "target": {"type": "AverageValue", "averageValue": t}}

_obj_value(t) := {"sensor": "qps", "source": "self", "target": {"type": "Value", "value": t}}

_obj_avg(t) := {"sensor": "qps", "source": "self", "target": {"type": "AverageValue", "averageValue": t}}

_cfg(minr, maxr, metrics) := {"min_replicas": minr, "max_replicas": maxr, "metrics": metrics}

# horizontal_test.go's controller: scaleUpLimitFactor 8, 5 minute window.
_hcfg(minr, maxr, metrics) := {
	"min_replicas": minr,
	"max_replicas": maxr,
	"metrics": metrics,
	"scale_up_limit_factor": 8,
}

_seed(current) := [{"replicas": current, "time": _now}]

# Replica-calculator inputs (min 1, max 1000, empty history).
_rc_cpu(current, t, levels, reqs, ready, lcs) := _input(_cfg(0, 1000, [_util(t)]), {"replicas": current}, _cpu_pods(levels, reqs, ready, lcs), [], [])

_rc_qps(current, t, levels, ready, lcs) := _input(_cfg(0, 1000, [_avg(t)]), {"replicas": current}, _qps_pods(levels, ready, lcs), [], [])

_rc_obj(current, metric, value, ready) := _input(
	_cfg(0, 1000, [metric]),
	{"replicas": current, "observed_replicas": current, "qps": value},
	_qps_pods([], ready, _running(count(ready))), [], [],
)

# A decision resizes to x (or does nothing when x is the current count).
_expect(d, current, x) if {
	x != current
	d.desired_replicas == x
	count(d.actions) == 1
	d.actions[0] == {"target": "self", "effector": "resize", "args": {"replicas": x}, "reason": d.actions[0].reason}
}

_expect(d, current, x) if {
	x == current
	d.desired_replicas == x
	count(d.actions) == 0
}

# Unit-test ports: the prenormalized recommendation is the value of a
# cluster AverageValue metric of target 1 (observed = current).
_pre_in(current, desired, minr, maxr, extra_cfg, recs, events) := _input(
	object.union({"min_replicas": minr, "max_replicas": maxr, "metrics": [_obj_avg(1)]}, extra_cfg),
	{"replicas": current, "observed_replicas": current, "qps": desired},
	[], recs, events,
)

# generateScalingRules(pods, podsPeriod, percent, percentPeriod, window)
_rules(pods, pods_period, pct, pct_period, window) := {
	"stabilizationWindowSeconds": window,
	"selectPolicy": "Max",
	"policies": array.concat(_pods_policy(pods, pods_period), _pct_policy(pct, pct_period)),
}

_pods_policy(v, p) := [{"type": "Pods", "value": v, "periodSeconds": p}] if v != 0

else := []

_pct_policy(v, p) := [{"type": "Percent", "value": v, "periodSeconds": p}] if v != 0

else := []

# generateEventsUniformDistribution(raw, 120); sign +1 for scale-up events,
# -1 for scale-down events.
_uniform(raw, sign) := [{"change": sign * x, "time": _now - ((120 - (seg * (idx + 1))) + (seg / 2))} |
	some idx, x in raw
	seg := 120 / count(raw)
]

# HPA condition -> reason
_cond(d, "DesiredWithinRange") if not d.reason in {
	"limited by min_replicas", "limited by max_replicas", "limited by scale-up policy",
	"limited by scale-down policy", "limited by scale-up limit",
}

_cond(d, "ScaleUpLimit") if d.reason in {"limited by scale-up policy", "limited by scale-up limit"}

_cond(d, "ScaleDownLimit") if d.reason == "limited by scale-down policy"

_cond(d, "TooManyReplicas") if d.reason == "limited by max_replicas"

_cond(d, "TooFewReplicas") if d.reason == "limited by min_replicas"

_rate(current, desired, minr, maxr, behavior, events) := res if {
	res := scaling.decision with input as _pre_in(current, desired, minr, maxr, {"behavior": behavior}, [], events)
}

# ===========================================================================
# Ports of replica_calculator_test.go
# ===========================================================================

test_k8s_TestReplicaCalcScaleUp if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 30, [300, 500, 700], [1000, 1000, 1000], _ready(3), _running(3))
	r.replicas == 5
	r.utilization == 50
	r.valid
}

test_k8s_TestReplicaCalcScaleUpUnreadyLessScale if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 30, [300, 500, 700], [1000, 1000, 1000], [false, true, true], _running(3))
	r.replicas == 4
	r.utilization == 60
}

test_k8s_TestReplicaCalcScaleUpHotCpuLessScale if {
	# the hot-CPU pod is unready for HPA; cores instead of millicores
	r := scaling.recommendations[0] with input as _rc_cpu(3, 30, [0.3, 0.5, 0.7], [1, 1, 1], [false, true, true], _running(3))
	r.replicas == 4
	r.utilization == 60
}

test_k8s_TestReplicaCalcScaleUpUnreadyNoScale if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 30, [400, 500, 700], [1000, 1000, 1000], [true, false, false], _running(3))
	r.replicas == 3
	r.utilization == 40
}

test_k8s_TestReplicaCalcScaleHotCpuNoScale if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 30, [0.4, 0.5, 0.7], [1, 1, 1], [true, false, false], _running(3))
	r.replicas == 3
	r.utilization == 40
}

test_k8s_TestReplicaCalcScaleUpIgnoresFailedPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 30, [500, 700], [1000, 1000, 1000, 1000], [true, true, false, false], [_R, _R, "on_fire", "on_fire"])
	r.replicas == 4
	r.utilization == 60
}

test_k8s_TestReplicaCalcScaleUpIgnoresDeletionPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 30, [500, 700], [1000, 1000, 1000, 1000], [true, true, false, false], [_R, _R, "stopping", "stopping"])
	r.replicas == 4
	r.utilization == 60
}

test_k8s_TestReplicaCalcScaleDown if {
	r := scaling.recommendations[0] with input as _rc_cpu(5, 50, [100, 300, 500, 250, 250], _n(1000, 5), _ready(5), _running(5))
	r.replicas == 3
	r.utilization == 28
}

test_k8s_TestReplicaCalcScaleDownExcludeUnreadyPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(5, 50, [100, 300, 500, 250, 250], _n(1000, 5), [true, true, true, false, false], _running(5))
	r.replicas == 2
	r.utilization == 30
}

test_k8s_TestReplicaCalcScaleDownExcludeUnscheduledPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(5, 50, [100], _n(1000, 5), [true, false, false, false, false], [_R, "starting", "starting", "created", "starting"])
	r.replicas == 1
	r.utilization == 10
}

test_k8s_TestReplicaCalcScaleDownIgnoreHotCpuPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(5, 50, [100, 300, 500, 250, 250], _n(1000, 5), [true, true, true, false, false], _running(5))
	r.replicas == 2
	r.utilization == 30
}

test_k8s_TestReplicaCalcScaleDownIgnoresFailedPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(5, 50, [100, 300, 500, 250, 250], _n(1000, 7), [true, true, true, true, true, false, false], [_R, _R, _R, _R, _R, "on_fire", "on_fire"])
	r.replicas == 3
	r.utilization == 28
}

test_k8s_TestReplicaCalcScaleDownIgnoresDeletionPods if {
	r := scaling.recommendations[0] with input as _rc_cpu(5, 50, [100, 300, 500, 250, 250], _n(1000, 7), [true, true, true, true, true, false, false], [_R, _R, _R, _R, _R, "stopping", "stopping"])
	r.replicas == 3
	r.utilization == 28
}

test_k8s_TestReplicaCalcTolerance if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 100, [1010, 1030, 1020], [900, 1000, 1100], _ready(3), _running(3))
	r.replicas == 3
	r.utilization == 102
}

test_k8s_TestReplicaCalcMissingMetrics if {
	r := scaling.recommendations[0] with input as _rc_cpu(4, 100, [400, 95], _n(1000, 4), _ready(4), _running(4))
	r.replicas == 3
	r.utilization == 24
}

test_k8s_TestReplicaCalcEmptyMetrics if {
	r := scaling.recommendations[0] with input as _rc_cpu(4, 100, [], _n(1000, 3), _ready(4), _running(4))
	r.valid == false
	r.replicas == null
	r.error == "no ready member reports cpu"
}

test_k8s_TestReplicaCalcEmptyCPURequest if {
	r := scaling.recommendations[0] with input as _rc_cpu(1, 100, [200], [], _ready(1), _running(1))
	r.valid == false
	startswith(r.error, "member shop/web/p0 has no valid cpu_req")
}

test_k8s_TestReplicaCalcMissingMetricsNoChangeEq if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 100, [1000], _n(1000, 2), _ready(2), _running(2))
	r.replicas == 2
	r.utilization == 100
}

test_k8s_TestReplicaCalcMissingMetricsNoChangeGt if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 100, [1900], _n(1000, 2), _ready(2), _running(2))
	r.replicas == 2
	r.utilization == 190
}

test_k8s_TestReplicaCalcMissingMetricsNoChangeLt if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 100, [600], _n(1000, 2), _ready(2), _running(2))
	r.replicas == 2
	r.utilization == 60
}

test_k8s_TestReplicaCalcMissingMetricsUnreadyChange if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 50, [100, 450], _n(1000, 3), [false, true, true], _running(3))
	r.replicas == 3
	r.utilization == 45
}

test_k8s_TestReplicaCalcMissingMetricsHotCpuNoChange if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 50, [100, 450], _n(1000, 3), [false, true, true], _running(3))
	r.replicas == 3
	r.utilization == 45
}

test_k8s_TestReplicaCalcMissingMetricsUnreadyScaleUp if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 50, [100, 2000], _n(1000, 3), [false, true, true], _running(3))
	r.replicas == 4
	r.utilization == 200
}

test_k8s_TestReplicaCalcMissingMetricsHotCpuScaleUp if {
	r := scaling.recommendations[0] with input as _rc_cpu(3, 50, [0.1, 2], [1, 1, 1], [false, true, true], _running(3))
	r.replicas == 4
	r.utilization == 200
}

test_k8s_TestReplicaCalcMissingMetricsUnreadyScaleDown if {
	r := scaling.recommendations[0] with input as _rc_cpu(4, 50, [100, 100, 100], _n(1000, 4), [false, true, true, true], _running(4))
	r.replicas == 3
	r.utilization == 10
}

test_k8s_TestReplicaCalcMissingMetricsScaleDownTargetOver100 if {
	r := scaling.recommendations[0] with input as _rc_cpu(4, 300, [200, 100, 100], [1000, 1000, 2000, 2000], [false, true, true, true], _running(4))
	r.replicas == 2
	r.utilization == 6
}

test_k8s_TestReplicaCalcDuringRollingUpdateWithMaxSurge if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 50, [100, 100], _n(1000, 3), _ready(3), _running(3))
	r.replicas == 2
	r.utilization == 10
}

test_k8s_TestReplicaCalcComputedToleranceAlgImplementation_scale if {
	# 10 pods at 150m, requests 300m +/- jitter: 50% used; target 56%
	r := scaling.recommendations[0] with input as _rc_cpu(10, 56, _n(150, 10), [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], _ready(10), _running(10))
	r.replicas == 9
	r.utilization == 50
}

test_k8s_TestReplicaCalcComputedToleranceAlgImplementation_noscale if {
	r := scaling.recommendations[0] with input as _rc_cpu(10, 55, _n(150, 10), [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], _ready(10), _running(10))
	r.replicas == 10
}

test_k8s_TestReplicaCalcScaleUpCM if {
	r := scaling.recommendations[0] with input as _rc_qps(3, 15, [20, 10, 30], _ready(3), _running(3))
	r.replicas == 4
	r.value == 20
}

test_k8s_TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale if {
	# readiness is only considered for CPU by HPA: all members ready here
	r := scaling.recommendations[0] with input as _rc_qps(3, 15, [50, 10, 30], _ready(3), _running(3))
	r.replicas == 6
	r.value == 30
}

test_k8s_TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown if {
	r := scaling.recommendations[0] with input as _rc_qps(3, 15, [50, 15, 30], _ready(3), _running(3))
	r.replicas == 7
	r.value == 31.666
}

test_k8s_TestReplicaCalcScaleUpCMObject if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_value(15), 20, _ready(3))
	r.replicas == 4
	r.value == 20
}

test_k8s_TestReplicaCalcScaleUpCMPerPodObject if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_avg(5), 20, _ready(3))
	r.replicas == 4
	r.value == 6.667
}

test_k8s_TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_value(10), 50, [false, true, false])
	r.replicas == 5
	r.value == 50
}

test_k8s_TestReplicaCalcScaleUpCMExternal if {
	r := scaling.recommendations[0] with input as _rc_qps(1, 4.4, [8.6], _ready(1), _running(1))
	r.replicas == 2
	r.value == 8.6
}

test_k8s_TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_value(4.4), 8.6, [false, true, false])
	r.replicas == 2
	r.value == 8.6
}

test_k8s_TestReplicaCalcScaleUpCMExternalNoLabels if {
	r := scaling.recommendations[0] with input as _rc_qps(1, 4.4, [8.6], _ready(1), _running(1))
	r.replicas == 2
}

test_k8s_TestReplicaCalcScaleUpPerPodCMExternal if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_avg(2.15), 8.6, _ready(3))
	r.replicas == 4
	r.value == 2.867
}

test_k8s_TestReplicaCalcScaleDownCM if {
	r := scaling.recommendations[0] with input as _rc_qps(5, 20, _n(12, 5), _ready(5), _running(5))
	r.replicas == 3
	r.value == 12
}

test_k8s_TestReplicaCalcScaleDownPerPodCMObject if {
	r := scaling.recommendations[0] with input as _rc_obj(5, _obj_avg(2), 6, _ready(5))
	r.replicas == 3
	r.value == 1.2
}

test_k8s_TestReplicaCalcScaleDownCMObject if {
	r := scaling.recommendations[0] with input as _rc_obj(5, _obj_value(20), 12, _ready(5))
	r.replicas == 3
	r.value == 12
}

test_k8s_TestReplicaCalcScaleDownCMExternal if {
	r := scaling.recommendations[0] with input as _rc_obj(5, _obj_value(14.334), 8.6, _ready(5))
	r.replicas == 3
}

test_k8s_TestReplicaCalcScaleDownPerPodCMExternal if {
	r := scaling.recommendations[0] with input as _rc_obj(5, _obj_avg(2.867), 8.6, _ready(5))
	r.replicas == 3
	r.value == 1.72
}

test_k8s_TestReplicaCalcToleranceCM if {
	r := scaling.recommendations[0] with input as _rc_qps(3, 20, [20, 21, 21], _ready(3), _running(3))
	r.replicas == 3
	r.value == 20.666
}

test_k8s_TestReplicaCalcToleranceCMObject if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_value(20), 20.666, _ready(3))
	r.replicas == 3
	r.value == 20.666
}

test_k8s_TestReplicaCalcTolerancePerPodCMObject if {
	r := scaling.recommendations[0] with input as _rc_obj(4, _obj_avg(5), 20.166, _ready(4))
	r.replicas == 4
	r.value == 5.042
}

test_k8s_TestReplicaCalcToleranceCMExternal if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_value(8.888), 8.6, _ready(3))
	r.replicas == 3
}

test_k8s_TestReplicaCalcTolerancePerPodCMExternal if {
	r := scaling.recommendations[0] with input as _rc_obj(3, _obj_avg(2.9), 8.6, _ready(3))
	r.replicas == 3
	r.value == 2.867
}

test_k8s_TestPlainMetricReplicaCalcMissingMetricsNoChangeEq if {
	r := scaling.recommendations[0] with input as _rc_qps(5, 20, [20, 19, 21], _ready(5), _running(5))
	r.replicas == 5
	r.value == 20
}

test_k8s_TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM if {
	r := scaling.recommendations[0] with input as _rc_qps(2, 17, [10, 10], _ready(3), _running(3))
	r.replicas == 2
	r.value == 10
}

# TestGroupPods: classification of members (pods)

_group(children) := res if {
	res := scaling.member_classes[0] with input as _input(_cfg(1, 10, [_util(50)]), {"replicas": 1}, children, [], [])
}

test_k8s_TestGroupPods_void if {
	_group([]) == []
}

test_k8s_TestGroupPods_count_in_a_ready_pod_memory if {
	_group([{"id": "bentham", "lifecycle": "running", "ready": true, "sensors": {"cpu": 1}}]) == [{"id": "bentham", "class": "ready"}]
}

test_k8s_TestGroupPods_unready_a_pod_without_ready_condition if {
	_group([{"id": "lucretius", "lifecycle": "running", "ready": false, "sensors": {"cpu": 1}}]) == [{"id": "lucretius", "class": "unready"}]
}

test_k8s_TestGroupPods_a_missing_pod if {
	_group([{"id": "epicurus", "lifecycle": "running", "ready": true, "sensors": {}}]) == [{"id": "epicurus", "class": "missing"}]
}

test_k8s_TestGroupPods_several_pods if {
	_group([
		{"id": "lucretius", "lifecycle": "running", "ready": false, "sensors": {"cpu": 1}},
		{"id": "niccolo", "lifecycle": "running", "ready": true, "sensors": {"cpu": 1}},
		{"id": "epicurus", "lifecycle": "running", "ready": true, "sensors": {"cpu": null}},
	]) == [{"id": "lucretius", "class": "unready"}, {"id": "niccolo", "class": "ready"}, {"id": "epicurus", "class": "missing"}]
}

test_k8s_TestGroupPods_pending_pods_are_unreadied if {
	_group([{"id": "unscheduled", "lifecycle": "created", "ready": false, "sensors": {}}]) == [{"id": "unscheduled", "class": "unready"}]
}

test_k8s_TestGroupPods_ignore_pods_with_deletion_timestamps if {
	_group([{"id": "deleted", "lifecycle": "stopping", "ready": false, "sensors": {"cpu": 1}}]) == [{"id": "deleted", "class": "ignored"}]
}

test_k8s_TestGroupPods_ignore_pods_in_a_failed_state if {
	_group([{"id": "failed", "lifecycle": "on_fire", "ready": false, "sensors": {"cpu": 1}}]) == [{"id": "failed", "class": "ignored"}]
}

# ===========================================================================
# Ports of horizontal_test.go (controller tests)
# ===========================================================================

_h_cpu(minr, maxr, current, t, levels, reqs, ready, lcs, recs) := res if {
	res := scaling.decision with input as _input(
		_hcfg(minr, maxr, [_util(t)]),
		{"replicas": current}, _cpu_pods(levels, reqs, ready, lcs), recs, [],
	)
}

_h_qps(minr, maxr, current, t, levels, ready, recs) := res if {
	res := scaling.decision with input as _input(
		_hcfg(minr, maxr, [_avg(t)]),
		{"replicas": current}, _qps_pods(levels, ready, _running(count(ready))), recs, [],
	)
}

_h_obj(minr, maxr, current, pods, metric, value, recs) := res if {
	res := scaling.decision with input as _input(
		_hcfg(minr, maxr, [metric]),
		{"replicas": current, "observed_replicas": current, "qps": value},
		_qps_pods([], _ready(pods), _running(pods)), recs, [],
	)
}

_one := _n(1000, 1)

_three := _n(1000, 3)

_five := _n(1000, 5)

test_k8s_TestScaleUp if {
	d := _h_cpu(2, 6, 3, 30, [300, 500, 700], _three, _ready(3), _running(3), _seed(3))
	_expect(d, 3, 5)
	d.reason == "scale up to recommendation"
}

test_k8s_TestScaleUpContainer if {
	d := _h_cpu(2, 6, 3, 30, [300, 500, 700], _three, _ready(3), _running(3), _seed(3))
	_expect(d, 3, 5)
}

test_k8s_TestScaleUpUnreadyLessScale if {
	d := _h_cpu(2, 6, 3, 30, [300, 500, 700], _three, [false, true, true], _running(3), _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleUpHotCpuLessScale if {
	d := _h_cpu(2, 6, 3, 30, [300, 500, 700], _three, [false, true, true], _running(3), _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleUpUnreadyNoScale if {
	d := _h_cpu(2, 6, 3, 30, [400, 500, 700], _three, [true, false, false], _running(3), _seed(3))
	_expect(d, 3, 3)
	d.reason == "within tolerance"
}

test_k8s_TestScaleUpHotCpuNoScale if {
	d := _h_cpu(2, 6, 3, 30, [400, 500, 700], _three, [true, false, false], _running(3), _seed(3))
	_expect(d, 3, 3)
}

test_k8s_TestScaleUpIgnoresFailedPods if {
	d := _h_cpu(2, 6, 2, 30, [500, 700], _n(1000, 4), [true, true, false, false], [_R, _R, "on_fire", "on_fire"], _seed(2))
	_expect(d, 2, 4)
}

test_k8s_TestScaleUpIgnoresDeletionPods if {
	d := _h_cpu(2, 6, 2, 30, [500, 700], _n(1000, 4), [true, true, false, false], [_R, _R, "stopping", "stopping"], _seed(2))
	_expect(d, 2, 4)
}

test_k8s_TestScaleUpDeployment if {
	d := _h_cpu(2, 6, 3, 30, [300, 500, 700], _three, _ready(3), _running(3), _seed(3))
	_expect(d, 3, 5)
}

test_k8s_TestScaleUpReplicaSet if {
	d := _h_cpu(2, 6, 3, 30, [0.3, 0.5, 0.7], [1, 1, 1], _ready(3), _running(3), _seed(3))
	_expect(d, 3, 5)
}

test_k8s_TestScaleUpCM if {
	d := _h_qps(2, 6, 3, 15, [20, 10, 30], _ready(3), _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleUpCMUnreadyAndHotCpuNoLessScale if {
	d := _h_qps(2, 6, 3, 15, [50, 10, 30], _ready(3), _seed(3))
	_expect(d, 3, 6)
}

test_k8s_TestScaleUpCMUnreadyandCpuHot if {
	d := _h_qps(2, 6, 3, 15, [50, 15, 30], _ready(3), _seed(3))
	_expect(d, 3, 6)
	d.recommendation == 7
	d.reason == "limited by max_replicas"
}

test_k8s_TestScaleUpHotCpuNoScaleWouldScaleDown if {
	d := _h_qps(2, 6, 3, 15, [50, 15, 30], _ready(3), _seed(3))
	_expect(d, 3, 6)
	d.reason == "limited by max_replicas"
}

test_k8s_TestScaleUpCMObject if {
	d := _h_obj(2, 6, 3, 3, _obj_value(15), 20, _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleUpFromZeroCMObject if {
	d := _h_obj(0, 6, 0, 0, _obj_value(15), 20, _seed(0))
	_expect(d, 0, 2)
}

test_k8s_TestScaleUpFromZeroIgnoresToleranceCMObject if {
	d := _h_obj(0, 6, 0, 0, _obj_value(1), 1, _seed(0))
	_expect(d, 0, 1)
}

test_k8s_TestScaleUpPerPodCMObject if {
	d := _h_obj(2, 6, 3, 3, _obj_avg(10), 40, _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleUpCMExternal if {
	d := _h_obj(2, 6, 3, 3, _obj_value(6.666), 8.6, _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleUpPerPodCMExternal if {
	d := _h_obj(2, 6, 3, 3, _obj_avg(2.222), 8.6, _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestScaleDown if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _five, _ready(5), _running(5), [])
	_expect(d, 5, 3)
	d.reason == "scale down to recommendation"
}

test_k8s_TestScaleDownContainerResource if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _five, _ready(5), _running(5), [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownWithScalingRules if {
	d := scaling.decision with input as _input(
		object.union(_hcfg(2, 6, [_util(50)]), {"behavior": {"scaleUp": _rules(0, 0, 100, 15, 30)}}),
		{"replicas": 5}, _cpu_pods([100, 300, 500, 250, 250], _five, _ready(5), _running(5)), [], [],
	)
	_expect(d, 5, 3)
}

test_k8s_TestScaleUpOneMetricInvalid if {
	d := scaling.decision with input as _input(
		_hcfg(2, 6, [_util(30), {"sensor": "cheddar", "target": {"type": "CheddarCheese"}}]),
		{"replicas": 3}, _cpu_pods([300, 400, 500], _three, _ready(3), _running(3)), _seed(3), [],
	)
	_expect(d, 3, 4)
	d.symptoms[0].name == "metric_invalid"
	d.symptoms[0].detail == {"index": 1, "sensor": "cheddar", "error": "target.type must be Utilization, AverageValue or Value"}
}

test_k8s_TestScaleUpFromZeroOneMetricInvalid if {
	d := scaling.decision with input as _input(
		_hcfg(0, 6, [_util(30), {"sensor": "cheddar", "target": {"type": "CheddarCheese"}}]),
		{"replicas": 0}, _cpu_pods([300, 400, 500], _three, _ready(3), _running(3)), [], [],
	)
	_expect(d, 0, 4)
}

test_k8s_TestScaleUpBothMetricsEmpty if {
	d := scaling.decision with input as _input(
		_hcfg(2, 6, [{"sensor": "cheddar", "target": {"type": "CheddarCheese"}}]),
		{"replicas": 3}, _cpu_pods([], _three, _ready(3), _running(3)), _seed(3), [],
	)
	_expect(d, 3, 3)
	d.reason == "no valid metrics"
	d.recommendation == null
}

test_k8s_TestScaleDownStabilizeInitialSize if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _five, _ready(5), _running(5), _seed(5))
	_expect(d, 5, 5)
	d.recommendation == 3
	d.reason == "scale-down stabilized"
}

test_k8s_TestScaleDownCM if {
	d := _h_qps(2, 6, 5, 20, _n(12, 5), _ready(5), [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownCMObject if {
	d := _h_obj(2, 6, 5, 5, _obj_value(20), 12, [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownToZeroCMObject if {
	d := _h_obj(0, 6, 5, 5, _obj_value(20), 0, [])
	_expect(d, 5, 0)
}

test_k8s_TestScaleDownPerPodCMObject if {
	d := _h_obj(2, 6, 5, 5, _obj_avg(20), 60, [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownCMExternal if {
	d := _h_obj(2, 6, 5, 5, _obj_value(14.4), 8.6, [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownToZeroCMExternal if {
	d := _h_obj(0, 6, 5, 5, _obj_value(14.4), 0, [])
	_expect(d, 5, 0)
}

test_k8s_TestScaleDownPerPodCMExternal if {
	d := _h_obj(2, 6, 5, 5, _obj_avg(3), 8.6, [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownIncludeUnreadyPods if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _five, [true, true, true, false, false], _running(5), [])
	_expect(d, 5, 2)
}

test_k8s_TestScaleDownIgnoreHotCpuPods if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _five, [true, true, true, false, false], _running(5), [])
	_expect(d, 5, 2)
}

test_k8s_TestScaleDownIgnoresFailedPods if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _n(1000, 7), [true, true, true, true, true, false, false], [_R, _R, _R, _R, _R, "on_fire", "on_fire"], [])
	_expect(d, 5, 3)
}

test_k8s_TestScaleDownIgnoresDeletionPods if {
	d := _h_cpu(2, 6, 5, 50, [100, 300, 500, 250, 250], _n(1000, 7), [true, true, true, true, true, false, false], [_R, _R, _R, _R, _R, "stopping", "stopping"], [])
	_expect(d, 5, 3)
}

test_k8s_TestTolerance if {
	d := _h_cpu(1, 5, 3, 100, [1010, 1030, 1020], [900, 1000, 1100], _ready(3), _running(3), _seed(3))
	_expect(d, 3, 3)
	d.reason == "within tolerance"
}

test_k8s_TestToleranceCM if {
	d := _h_qps(1, 5, 3, 20, [20, 20.001, 21], _ready(3), _seed(3))
	_expect(d, 3, 3)
	d.reason == "within tolerance"
}

test_k8s_TestToleranceCMObject if {
	d := _h_obj(1, 5, 3, 3, _obj_value(20), 20.05, _seed(3))
	_expect(d, 3, 3)
}

test_k8s_TestToleranceCMExternal if {
	d := _h_obj(2, 6, 4, 4, _obj_value(8.666), 8.6, _seed(4))
	_expect(d, 4, 4)
}

test_k8s_TestTolerancePerPodCMObject if {
	d := _h_obj(2, 6, 4, 4, _obj_avg(2.2), 8.6, _seed(4))
	_expect(d, 4, 4)
}

test_k8s_TestTolerancePerPodCMExternal if {
	d := _h_obj(2, 6, 4, 4, _obj_avg(2.2), 8.6, _seed(4))
	_expect(d, 4, 4)
}

test_k8s_TestMinReplicas if {
	d := _h_cpu(2, 5, 3, 90, [10, 95, 10], [900, 1000, 1100], _ready(3), _running(3), [])
	_expect(d, 3, 2)
	d.reason == "limited by min_replicas"
	some s in d.symptoms
	s.name == "scaling_limited"
}

test_k8s_TestZeroMinReplicasDesiredZero if {
	d := _h_cpu(0, 5, 3, 90, [0, 0, 0], [900, 1000, 1100], _ready(3), _running(3), [])
	_expect(d, 3, 0)
}

test_k8s_TestMinReplicasDesiredZero if {
	d := _h_cpu(2, 5, 3, 90, [0, 0, 0], [900, 1000, 1100], _ready(3), _running(3), [])
	_expect(d, 3, 2)
	d.reason == "limited by min_replicas"
}

test_k8s_TestZeroReplicas if {
	d := _h_cpu(3, 5, 0, 90, [], [], [], [], _seed(0))
	_expect(d, 0, 0)
	d.reason == "scaling disabled"
	d.recommendation == null
}

test_k8s_TestTooFewReplicas if {
	d := _h_cpu(3, 5, 2, 90, [], [], [], [], _seed(2))
	_expect(d, 2, 3)
	d.reason == "current below min_replicas"
}

test_k8s_TestTooManyReplicas if {
	d := _h_cpu(3, 5, 10, 90, [], [], [], [], _seed(10))
	_expect(d, 10, 5)
	d.reason == "current above max_replicas"
}

test_k8s_TestMaxReplicas if {
	d := _h_cpu(2, 5, 3, 90, [8000, 9500, 1000], [900, 1000, 1100], _ready(3), _running(3), _seed(3))
	_expect(d, 3, 5)
	d.reason == "limited by max_replicas"
}

test_k8s_TestMissingMetrics if {
	d := _h_cpu(2, 6, 4, 100, [400, 95], _n(1000, 4), _ready(4), _running(4), [])
	_expect(d, 4, 3)
}

test_k8s_TestEmptyMetrics if {
	d := _h_cpu(2, 6, 4, 100, [], _n(1000, 4), _ready(4), _running(4), _seed(4))
	_expect(d, 4, 4)
	d.reason == "no valid metrics"
}

test_k8s_TestEmptyCPURequest if {
	d := _h_cpu(1, 5, 1, 100, [200], [], _ready(1), _running(1), _seed(1))
	_expect(d, 1, 1)
	d.reason == "no valid metrics"
}

test_k8s_TestEventCreated if {
	d := _h_cpu(1, 5, 1, 50, [200], [200], _ready(1), _running(1), _seed(1))
	_expect(d, 1, 2)
}

test_k8s_TestEventNotCreated if {
	d := _h_cpu(1, 5, 2, 50, [200, 200], [400, 400], _ready(2), _running(2), _seed(2))
	_expect(d, 2, 2)
}

test_k8s_TestMissingReports if {
	d := _h_cpu(1, 5, 4, 50, [200], [200], _ready(1), _running(1), [])
	_expect(d, 4, 2)
}

test_k8s_TestUpscaleCap if {
	d := scaling.decision with input as _input(
		object.union(_hcfg(1, 100, [_util(10)]), {"behavior": {"scaleUp": _rules(0, 0, 700, 60, 0)}}),
		{"replicas": 3}, _cpu_pods([100, 200, 300], [100, 100, 100], _ready(3), _running(3)), _seed(3), [],
	)
	_expect(d, 3, 24)
	d.reason == "limited by scale-up policy"
}

test_k8s_TestUpscaleCapGreaterThanMaxReplicas if {
	d := scaling.decision with input as _input(
		object.union(_hcfg(1, 20, [_util(10)]), {"behavior": {"scaleUp": _rules(0, 0, 700, 60, 0)}}),
		{"replicas": 3}, _cpu_pods([100, 200, 300], [100, 100, 100], _ready(3), _running(3)), _seed(3), [],
	)
	_expect(d, 3, 20)
	d.reason == "limited by max_replicas"
}

test_k8s_TestMoreReplicasThanSpecNoScale if {
	d := scaling.decision with input as _input(
		_hcfg(1, 8, [_util(50)]),
		{"replicas": 4, "observed_replicas": 5}, _cpu_pods(_n(500, 5), _five, _ready(5), _running(5)), _seed(4), [],
	)
	_expect(d, 4, 4)
}

test_k8s_TestConditionFailedGetMetrics_resource if {
	d := _h_cpu(1, 100, 3, 10, [], [100, 100, 100], _ready(3), _running(3), _seed(3))
	_expect(d, 3, 3)
	d.reason == "no valid metrics"
}

test_k8s_TestConditionFailedGetMetrics_pods if {
	d := _h_qps(1, 100, 3, 15, [], _ready(3), _seed(3))
	_expect(d, 3, 3)
	d.reason == "no valid metrics"
}

test_k8s_TestConditionFailedGetMetrics_object if {
	d := _h_obj(1, 100, 3, 3, _obj_value(15), null, _seed(3))
	_expect(d, 3, 3)
	d.reason == "no valid metrics"
}

test_k8s_TestConditionFailedGetMetrics_external if {
	d := _h_obj(1, 100, 3, 3, _obj_avg(0.3), null, _seed(3))
	_expect(d, 3, 3)
	d.reason == "no valid metrics"
	some s in d.symptoms
	s.name == "scaling_inactive"
}

test_k8s_TestConditionInvalidSourceType if {
	d := scaling.decision with input as _input(
		_hcfg(2, 6, [{"sensor": "qps", "source": "CheddarCheese", "target": {"type": "Value", "value": 1}}]),
		{"replicas": 3, "qps": 20}, [], _seed(3), [],
	)
	_expect(d, 3, 3)
	d.reason == "no valid metrics"
}

test_k8s_TestNoBackoffUpscaleCM if {
	d := _h_qps(1, 5, 3, 15, [20, 10, 30], _ready(3), _seed(3))
	_expect(d, 3, 4)
}

test_k8s_TestNoBackoffUpscaleCMNoBackoffCpu if {
	d := scaling.decision with input as _input(
		_hcfg(1, 5, [_util(10), _avg(15)]),
		{"replicas": 3},
		[_pod(idx, _R, true, {"cpu": lv, "cpu_req": 1000, "qps": lv / 1000}) | some idx, lv in [20000, 10000, 30000]],
		_seed(3), [],
	)
	_expect(d, 3, 5)
	d.reason == "limited by max_replicas"
}

test_k8s_TestStabilizeDownscale if {
	d := _h_cpu(1, 5, 4, 100, [50, 50, 50], [100, 100, 100], _ready(3), _running(3), [
		{"replicas": 10, "time": _now - 600},
		{"replicas": 4, "time": _now - 60},
	])
	_expect(d, 4, 4)
	d.recommendation == 2
	d.reason == "scale-down stabilized"
}

test_k8s_TestComputedToleranceAlgImplementation_scale if {
	d := _h_cpu(0, 1000, 10, 56, _n(150, 10), [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], _ready(10), _running(10), [])
	_expect(d, 10, 9)
}

test_k8s_TestComputedToleranceAlgImplementation_noscale if {
	d := _h_cpu(0, 1000, 10, 55, _n(150, 10), [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], _ready(10), _running(10), [])
	_expect(d, 10, 10)
}

test_k8s_TestScaleUpRCImmediately if {
	d := _h_cpu(2, 6, 1, 30, [0, 0, 0, 0], _n(1000, 4), _ready(4), _running(4), _seed(1))
	_expect(d, 1, 2)
}

test_k8s_TestScaleDownRCImmediately if {
	d := _h_cpu(2, 5, 6, 50, [8000, 9500, 1000], [900, 1000, 1100], _ready(3), _running(3), _seed(6))
	_expect(d, 6, 5)
}

test_k8s_TestAvoidUnnecessaryUpdates if {
	d := _h_cpu(2, 6, 2, 80, [400, 500, 700], _three, [true, false, false], _running(3), [])
	_expect(d, 2, 2)
	d.reason == "limited by min_replicas"
}

test_k8s_TestScaleUpOneMetricEmpty if {
	d := scaling.decision with input as _input(
		_hcfg(2, 6, [_util(30), _obj_value(0.1)]),
		{"replicas": 3}, _cpu_pods([300, 400, 500], _three, _ready(3), _running(3)), _seed(3), [],
	)
	_expect(d, 3, 4)
}

test_k8s_TestNoScaleDownOneMetricInvalid if {
	d := scaling.decision with input as _input(
		_hcfg(2, 6, [_util(50), {"sensor": "cheddar", "target": {"type": "CheddarCheese"}}]),
		{"replicas": 5}, _cpu_pods([100, 300, 500, 250, 250], _five, _ready(5), _running(5)), [], [],
	)
	_expect(d, 5, 5)
	d.reason == "invalid metric blocks scale-down"
	d.recommendation == null
}

test_k8s_TestNoScaleDownOneMetricEmpty if {
	d := scaling.decision with input as _input(
		_hcfg(2, 6, [_util(50), _obj_value(1)]),
		{"replicas": 5}, _cpu_pods([100, 300, 500, 250, 250], _five, _ready(5), _running(5)), [], [],
	)
	_expect(d, 5, 5)
	d.reason == "invalid metric blocks scale-down"
}

# TestConvertDesiredReplicasWithRules (legacy normalization, factor 8)

_legacy(current, desired, minr, maxr) := res if {
	res := scaling.decision with input as _pre_in(current, desired, minr, maxr, {"scale_up_limit_factor": 8}, [], [])
}

test_k8s_TestConvertDesiredReplicasWithRules_within_range if {
	d := _legacy(5, 7, 3, 8)
	_expect(d, 5, 7)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestConvertDesiredReplicasWithRules_below_min if {
	d := _legacy(3, 1, 2, 8)
	_expect(d, 3, 2)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestConvertDesiredReplicasWithRules_zero_within_range if {
	d := _legacy(1, 0, 0, 10)
	_expect(d, 1, 0)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestConvertDesiredReplicasWithRules_max_is_limit if {
	d := _legacy(20, 1000, 1, 10)
	_expect(d, 20, 10)
}

test_k8s_TestConvertDesiredReplicasWithRules_scale_up_limit if {
	d := _legacy(3, 1000, 1, 2000)
	_expect(d, 3, 24)
	_cond(d, "ScaleUpLimit")
}

# TestNormalizeDesiredReplicas (legacy stabilization, 5 minutes)

_stab(current, desired, recs) := res if {
	res := scaling.stabilized_recommendation with input as _pre_in(current, desired, 1, 1000, {}, recs, [])
}

test_k8s_TestNormalizeDesiredReplicas_empty_log if {
	_stab(10, 5, []) == 5
}

test_k8s_TestNormalizeDesiredReplicas_stabilize if {
	_stab(10, 3, [{"replicas": 4, "time": _now - 120}, {"replicas": 5, "time": _now - 60}]) == 5
}

test_k8s_TestNormalizeDesiredReplicas_no_stabilize if {
	_stab(10, 3, [{"replicas": 1, "time": _now - 120}, {"replicas": 2, "time": _now - 60}]) == 3
}

test_k8s_TestNormalizeDesiredReplicas_no_stabilize_old_recommendations if {
	_stab(10, 3, [{"replicas": 10, "time": _now - 600}, {"replicas": 9, "time": _now - 540}]) == 3
}

test_k8s_TestNormalizeDesiredReplicas_stabilize_old_recommendations if {
	_stab(10, 3, [
		{"replicas": 10, "time": _now - 600},
		{"replicas": 4, "time": _now - 60},
		{"replicas": 5, "time": _now - 120},
		{"replicas": 9, "time": _now - 540},
	]) == 5
}

# TestCalculateScaleUpLimitWithScalingRules / TestCalculateScaleDownLimitWithBehaviors

test_k8s_TestCalculateScaleUpLimitWithScalingRules if {
	d := _rate(
		1, 10, 1, 100, {"scaleUp": {"stabilizationWindowSeconds": 300, "selectPolicy": "Min", "policies": [
			{"type": "Pods", "value": 2, "periodSeconds": 60},
			{"type": "Percent", "value": 50, "periodSeconds": 60},
		]}},
		[],
	)
	_expect(d, 1, 2)
}

test_k8s_TestCalculateScaleDownLimitWithBehaviors if {
	d := _rate(
		5, 0, 0, 100, {"scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min", "policies": [
			{"type": "Pods", "value": 2, "periodSeconds": 60},
			{"type": "Percent", "value": 50, "periodSeconds": 60},
		]}},
		[],
	)
	_expect(d, 5, 3)
}

# TestScalingWithRules (convertDesiredReplicasWithBehaviorRate)

test_k8s_TestScalingWithRules_prenormalized_desired_replicas_within_range if {
	d := _rate(5, 7, 3, 8, {}, [])
	_expect(d, 5, 7)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_prenormalized_desired_replicas_lt_minReplicas if {
	d := _rate(3, 1, 2, 8, {}, [])
	_expect(d, 3, 2)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_within_range_when_minReplicas_is_0 if {
	d := _rate(1, 0, 0, 10, {}, [])
	_expect(d, 1, 0)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_maxReplicas_is_the_limit_because_maxReplicas_lt_scaleUpLimit if {
	# current (20) is above max (10): the controller goes to max directly
	d := _rate(20, 1000, 1, 10, {}, [])
	_expect(d, 20, 10)
}

test_k8s_TestScalingWithRules_desired_replica_count_is_more_than_the_maximum if {
	d := _rate(100, 1000, 100, 150, {}, [])
	_expect(d, 100, 150)
	_cond(d, "TooManyReplicas")
}

test_k8s_TestScalingWithRules_scaleUpLimit_with_user_policies if {
	d := _rate(3, 1000, 1, 2000, {"scaleUp": _rules(0, 0, 1, 60, 0)}, [])
	_expect(d, 3, 4)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleDownLimit_with_user_defined_policies if {
	# skipped by the Go test (testThis); the expectation holds here
	d := _rate(1000, 3, 3, 2000, {"scaleDown": _rules(20, 60, 0, 0, 0)}, [])
	_expect(d, 1000, 980)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_default_behavior if {
	d := _rate(10, 50, 1, 1000, {}, [])
	_expect(d, 10, 20)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_pods_policy_larger_than_percent_policy if {
	d := _rate(10, 500, 1, 1000, {"scaleUp": _rules(100, 60, 100, 60, 0)}, [])
	_expect(d, 10, 110)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_percent_policy_larger_than_pods_policy if {
	d := _rate(10, 500, 1, 1000, {"scaleUp": _rules(2, 60, 100, 60, 0)}, [])
	_expect(d, 10, 20)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_spec_MaxReplicas_limitation_with_large_pod_policy if {
	d := _rate(10, 50, 1, 1000, {"scaleUp": _rules(100, 60, 0, 0, 0)}, [])
	_expect(d, 10, 50)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_scaleUp_with_spec_MaxReplicas_limitation_with_large_percent_policy if {
	d := _rate(10, 50, 1, 1000, {"scaleUp": _rules(10000, 60, 0, 0, 0)}, [])
	_expect(d, 10, 50)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_scaleUp_with_pod_policy_limitation if {
	d := _rate(10, 50, 1, 1000, {"scaleUp": _rules(30, 60, 0, 0, 0)}, [])
	_expect(d, 10, 40)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_percent_policy_limitation if {
	d := _rate(10, 50, 1, 1000, {"scaleUp": _rules(0, 0, 200, 60, 0)}, [])
	_expect(d, 10, 30)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_percent_policy_larger_than_pod_policy if {
	d := _rate(100, 2, 1, 1000, {"scaleDown": _rules(20, 60, 1, 60, 300)}, [])
	_expect(d, 100, 80)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_pod_policy_larger_than_percent_policy if {
	d := _rate(100, 2, 1, 1000, {"scaleDown": _rules(2, 60, 1, 60, 300)}, [])
	_expect(d, 100, 98)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_spec_MinReplicas_nil_limitation_with_large_pod_policy if {
	d := _rate(10, 0, 1, 1000, {"scaleDown": _rules(100, 60, 0, 0, 300)}, [])
	_expect(d, 10, 1)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_scaleDown_with_spec_MinReplicas_limitation_with_large_pod_policy if {
	d := _rate(10, 0, 1, 1000, {"scaleDown": _rules(100, 60, 0, 0, 300)}, [])
	_expect(d, 10, 1)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_scaleDown_with_spec_MinReplicas_limitation_with_large_percent_policy if {
	d := _rate(10, 2, 5, 1000, {"scaleDown": _rules(0, 0, 100, 60, 300)}, [])
	_expect(d, 10, 5)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_scaleDown_with_pod_policy_limitation if {
	d := _rate(10, 2, 1, 1000, {"scaleDown": _rules(5, 60, 0, 0, 300)}, [])
	_expect(d, 10, 5)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_percent_policy_limitation if {
	d := _rate(10, 5, 1, 1000, {"scaleDown": _rules(0, 0, 50, 60, 300)}, [])
	_expect(d, 10, 5)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_scaleUp_with_spec_MaxReplicas_limitation_with_large_pod_policy_and_events if {
	d := _rate(100, 500, 1, 200, {"scaleUp": _rules(300, 60, 0, 0, 0)}, _uniform([1, 5, 9], 1))
	_expect(d, 100, 200)
	_cond(d, "TooManyReplicas")
}

test_k8s_TestScalingWithRules_scaleUp_with_spec_MaxReplicas_limitation_with_large_percent_policy_and_events if {
	d := _rate(100, 500, 1, 200, {"scaleUp": _rules(0, 0, 10000, 60, 0)}, _uniform([1, 5, 9], 1))
	_expect(d, 100, 200)
	_cond(d, "TooManyReplicas")
}

test_k8s_TestScalingWithRules_scaleUp_with_currentReplicas_limitation_with_a_lot_of_recent_scale_up_events if {
	d := _rate(100, 500, 1, 1000, {"scaleUp": _rules(5, 120, 0, 0, 0)}, _uniform([1, 5, 9], 1))
	_expect(d, 100, 100)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_pod_policy_and_previous_scale_up_events if {
	d := _rate(100, 500, 1, 1000, {"scaleUp": _rules(150, 120, 0, 0, 0)}, _uniform([1, 5, 9], 1))
	_expect(d, 100, 235)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_percent_policy_and_previous_scale_up_events if {
	d := _rate(100, 500, 1, 1000, {"scaleUp": _rules(0, 0, 200, 120, 0)}, _uniform([1, 5, 9], 1))
	_expect(d, 100, 255)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleUp_with_percent_policy_and_previous_scale_up_and_down_events if {
	d := _rate(6, 24, 1, 1000, {"scaleUp": _rules(0, 0, 300, 300, 0)}, array.concat(_uniform([4], 1), _uniform([2], -1)))
	_expect(d, 6, 16)
	_cond(d, "ScaleUpLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_default_policy_and_previous_events if {
	d := _rate(10, 5, 1, 1000, {}, _uniform([1, 5, 9], -1))
	_expect(d, 10, 5)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_scaleDown_with_spec_MinReplicas_nil_limitation_with_large_pod_policy_and_previous_events if {
	d := _rate(100, 0, 1, 1000, {"scaleDown": _rules(115, 120, 0, 0, 300)}, _uniform([1, 5, 9], -1))
	_expect(d, 100, 1)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_scaleDown_with_spec_MinReplicas_limitation_with_large_pod_policy_and_previous_events if {
	d := _rate(100, 0, 5, 1000, {"scaleDown": _rules(130, 120, 0, 0, 300)}, _uniform([1, 5, 9], -1))
	_expect(d, 100, 5)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_scaleDown_with_spec_MinReplicas_limitation_with_large_percent_policy_and_previous_events if {
	d := _rate(100, 2, 5, 1000, {"scaleDown": _rules(0, 0, 100, 120, 300)}, _uniform([1, 5, 9], -1))
	_expect(d, 100, 5)
	_cond(d, "TooFewReplicas")
}

test_k8s_TestScalingWithRules_scaleDown_with_pod_policy_limitation_and_previous_events if {
	d := _rate(100, 2, 1, 1000, {"scaleDown": _rules(5, 120, 0, 0, 300)}, _uniform([1, 5, 9], -1))
	_expect(d, 100, 100)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_percent_policy_limitation_and_previous_events if {
	d := _rate(100, 0, 1, 1000, {"scaleDown": _rules(0, 0, 50, 120, 300)}, _uniform([2, 4, 6], -1))
	_expect(d, 100, 56)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_percent_policy_and_previous_scale_up_and_down_events if {
	d := _rate(10, 1, 1, 1000, {"scaleDown": _rules(0, 0, 50, 180, 0)}, array.concat(_uniform([2], 1), _uniform([4], -1)))
	_expect(d, 10, 6)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_previous_events_preventing_further_scale_down if {
	d := _rate(100, 0, 1, 1000, {"scaleDown": _rules(0, 0, 10, 120, 300)}, _uniform([10, 10, 10], -1))
	_expect(d, 100, 100)
	_cond(d, "ScaleDownLimit")
}

test_k8s_TestScalingWithRules_scaleDown_with_previous_events_still_allowing_more_scale_down if {
	d := _rate(10, 5, 1, 1000, {"scaleDown": _rules(0, 0, 1000, 120, 300)}, _uniform([10, 10, 10], -1))
	_expect(d, 10, 5)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_check_outdated_flag_for_events_for_one_behavior_for_up if {
	d := _rate(100, 200, 1, 1000, {"scaleUp": _rules(1000, 60, 0, 0, 0)}, _uniform([8, 12, 9, 11], 1))
	_expect(d, 100, 200)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_events_not_marked_outdated_for_two_policies_for_up if {
	d := _rate(100, 200, 1, 1000, {"scaleUp": _rules(1000, 120, 100, 60, 0)}, _uniform([8, 12, 9, 11], 1))
	_expect(d, 100, 200)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_events_marked_outdated_for_two_policies_for_up if {
	d := _rate(100, 200, 1, 1000, {"scaleUp": _rules(1000, 30, 100, 60, 0)}, _uniform([8, 12, 9, 11], 1))
	_expect(d, 100, 200)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_check_outdated_flag_for_events_for_one_behavior_for_down if {
	d := _rate(100, 5, 1, 1000, {"scaleDown": _rules(1000, 60, 0, 0, 300)}, _uniform([8, 12, 9, 11], -1))
	_expect(d, 100, 5)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_events_not_marked_outdated_for_two_policies_for_down if {
	d := _rate(100, 5, 1, 1000, {"scaleDown": _rules(1000, 120, 100, 60, 300)}, _uniform([8, 12, 9, 11], -1))
	_expect(d, 100, 5)
	_cond(d, "DesiredWithinRange")
}

test_k8s_TestScalingWithRules_events_marked_outdated_for_two_policies_for_down if {
	d := _rate(100, 5, 1, 1000, {"scaleDown": _rules(1000, 30, 100, 60, 300)}, _uniform([8, 12, 9, 11], -1))
	_expect(d, 100, 5)
	_cond(d, "DesiredWithinRange")
}

# TestStoreScaleEvents: getReplicasChangePerPeriod(60, events), seen through
# a Pods policy of 10 per 60 s (limit = current - added + 10, never below
# current) and its scale-down mirror (limit = current + deleted - 10).

_up60(events) := _rate(10, 100, 0, 1000, {"scaleUp": {"policies": [{"type": "Pods", "value": 10, "periodSeconds": 60}]}}, events)

_down60(events) := _rate(30, 0, 0, 1000, {"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 10, "periodSeconds": 60}]}}, events)

_ev(changes_ages, sign) := [{"change": sign * x[0], "time": _now - x[1]} | some x in changes_ages]

test_k8s_TestStoreScaleEvents_empty_entries if {
	_up60([]).desired_replicas == 20
	_down60([]).desired_replicas == 20
}

test_k8s_TestStoreScaleEvents_one_outdated_entry if {
	_up60(_ev([[7, 61]], 1)).desired_replicas == 20
	_down60(_ev([[7, 61]], -1)).desired_replicas == 20
}

test_k8s_TestStoreScaleEvents_one_actual_entry if {
	_up60(_ev([[7, 58]], 1)).desired_replicas == 13
	_down60(_ev([[7, 58]], -1)).desired_replicas == 27
}

test_k8s_TestStoreScaleEvents_two_entries_one_of_them_outdated if {
	_up60(_ev([[7, 61], [6, 59]], 1)).desired_replicas == 14
	_down60(_ev([[7, 61], [6, 59]], -1)).desired_replicas == 26
}

test_k8s_TestStoreScaleEvents_policies_with_different_periods if {
	_up60(_ev([[8, 29], [6, 59], [7, 61], [9, 61]], 1)).desired_replicas == 10
	_down60(_ev([[8, 29], [6, 59], [7, 61], [9, 61]], -1)).desired_replicas == 30
}

test_k8s_TestStoreScaleEvents_two_entries_both_actual if {
	_up60(_ev([[7, 58], [6, 59]], 1)).desired_replicas == 10
	_down60(_ev([[7, 58], [6, 59]], -1)).desired_replicas == 30
}

# TestNormalizeDesiredReplicasWithBehavior (stabilizeRecommendationWithBehaviors)

_bstab(current, desired, recs, up_window, down_window) := res if {
	res := scaling.stabilized_recommendation with input as _pre_in(
		current, desired, 1, 1000, {"behavior": {
			"scaleUp": {"stabilizationWindowSeconds": up_window},
			"scaleDown": {"stabilizationWindowSeconds": down_window},
		}},
		recs, [],
	)
}

_recs(pairs) := [{"replicas": p[0], "time": _now - p[1]} | some p in pairs]

test_k8s_TestNormalizeDesiredReplicasWithBehavior_empty_recommendations_for_scaling_down if {
	_bstab(100, 5, [], 0, 0) == 5
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_simple_scale_down_stabilization if {
	_bstab(100, 3, _recs([[4, 120], [5, 60]]), 0, 180) == 5
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_simple_scale_up_stabilization if {
	_bstab(1, 7, _recs([[4, 120], [5, 60]]), 300, 0) == 4
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_no_scale_down_stabilization if {
	_bstab(100, 3, _recs([[1, 120], [2, 60]]), 300, 0) == 3
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_no_scale_up_stabilization if {
	_bstab(1, 3, _recs([[4, 120], [5, 60]]), 0, 300) == 3
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_no_scale_down_stabilization_reuse_recommendation_element if {
	_bstab(100, 3, _recs([[10, 600], [9, 540]]), 0, 0) == 3
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_no_scale_up_stabilization_reuse_recommendation_element if {
	_bstab(1, 100, _recs([[10, 600], [9, 540]]), 0, 0) == 100
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_scale_down_stabilization_reuse_one_of_obsolete_recommendation_element if {
	_bstab(100, 3, _recs([[10, 600], [4, 60], [5, 120], [9, 540]]), 0, 180) == 5
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_scale_up_stabilization_reuse_one_of_obsolete_recommendation_element if {
	_bstab(1, 100, _recs([[10, 6000], [6, 60], [5, 120], [9, 180]]), 300, 0) == 5
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_do_not_scale_up_when_prenormalized_rec_goes_down if {
	_bstab(2, 1, _recs([[2, 6000], [3, 180]]), 300, 300) == 2
}

test_k8s_TestNormalizeDesiredReplicasWithBehavior_do_not_scale_down_when_prenormalized_rec_goes_up if {
	_bstab(2, 3, _recs([[2, 6000], [1, 180]]), 300, 300) == 2
}

# ===========================================================================
# Policy-specific tests
# ===========================================================================

_basic_cfg := _cfg(1, 10, [_util(50)])

_basic_children := _cpu_pods([0.5, 0.5], [1, 1], _ready(2), _running(2))

_misconfigured(d) if {
	d.reason == "misconfigured"
	d.actions == []
	d.escalate == []
	d.remember == {}
	d.recommendation == null
	d.symptoms[0].name == "misconfigured"
	d.symptoms[0].severity == "warning"
}

test_no_input_is_misconfigured if {
	d := scaling.decision
	_misconfigured(d)
	d.desired_replicas == null
}

test_no_scaling_config_is_misconfigured if {
	d := scaling.decision with input as {"now": _now, "entity": {"config": {}, "sensors": {"replicas": 3}}, "children": []}
	_misconfigured(d)
	d.desired_replicas == 3
	"no scaling config (entity.config.scaling)" in d.symptoms[0].detail.problems
}

test_missing_replicas_sensor_is_misconfigured if {
	d := scaling.decision with input as _input(_basic_cfg, {}, _basic_children, [], [])
	_misconfigured(d)
	d.desired_replicas == null
}

test_null_replicas_sensor_is_misconfigured if {
	d := scaling.decision with input as _input(_basic_cfg, {"replicas": null}, _basic_children, [], [])
	_misconfigured(d)
}

test_fractional_replicas_sensor_is_misconfigured if {
	d := scaling.decision with input as _input(_basic_cfg, {"replicas": 2.5}, _basic_children, [], [])
	_misconfigured(d)
}

test_missing_now_is_misconfigured if {
	d := scaling.decision with input as object.remove(_input(_basic_cfg, {"replicas": 2}, _basic_children, [], []), ["now"])
	_misconfigured(d)
	d.symptoms[0].detail.problems == ["input.now is missing or not a number (in seconds)"]
}

test_missing_max_replicas_is_misconfigured if {
	d := scaling.decision with input as _input({"metrics": [_util(50)]}, {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
	d.symptoms[0].detail.problems == ["max_replicas must be an integer >= 1"]
}

test_min_above_max_is_misconfigured if {
	d := scaling.decision with input as _input(_cfg(5, 3, [_util(50)]), {"replicas": 4}, _basic_children, [], [])
	_misconfigured(d)
	d.symptoms[0].detail.problems == ["min_replicas is greater than max_replicas"]
}

test_non_numeric_min_is_misconfigured if {
	d := scaling.decision with input as _input(_cfg("two", 3, [_util(50)]), {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
}

test_empty_metrics_is_misconfigured if {
	d := scaling.decision with input as _input(_cfg(1, 3, []), {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
	scaling.recommendations == [] with input as _input(_cfg(1, 3, []), {"replicas": 2}, _basic_children, [], [])
}

test_bad_tolerance_is_misconfigured if {
	d := scaling.decision with input as _input(object.union(_basic_cfg, {"tolerance": {"scale_up": -0.1}}), {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
}

test_bad_behavior_policy_is_misconfigured if {
	cfg := object.union(_basic_cfg, {"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 60}]}}})
	d := scaling.decision with input as _input(cfg, {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
}

test_bad_behavior_window_and_select_are_misconfigured if {
	cfg := object.union(_basic_cfg, {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Fastest"}}})
	d := scaling.decision with input as _input(cfg, {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
	count(d.symptoms[0].detail.problems) == 2
}

test_empty_policies_are_misconfigured if {
	cfg := object.union(_basic_cfg, {"behavior": {"scaleDown": {"policies": []}}})
	d := scaling.decision with input as _input(cfg, {"replicas": 2}, _basic_children, [], [])
	_misconfigured(d)
}

test_non_object_entity_parts_do_not_fail if {
	d := scaling.decision with input as {"now": _now, "entity": {"config": "x", "sensors": null}, "children": "nope", "knowledge": 7}
	_misconfigured(d)
}

test_decision_has_all_fields if {
	d := scaling.decision with input as _input(_basic_cfg, {"replicas": 2}, _basic_children, _seed(2), [])
	object.keys(d) == {"symptoms", "actions", "escalate", "remember", "desired_replicas", "recommendation", "reason"}
	d.symptoms == []
	d.actions == []
	d.escalate == []
	d.remember == {}
	d.desired_replicas == 2
	d.recommendation == 2
	d.reason == "within tolerance"
}

test_action_shape if {
	d := scaling.decision with input as _input(_basic_cfg, {"replicas": 2}, _cpu_pods([1, 1], [1, 1], _ready(2), _running(2)), [], [])
	d.actions == [{
		"target": "self",
		"effector": "resize",
		"args": {"replicas": 4},
		"reason": "scale up to recommendation: 2 -> 4 replicas",
	}]
}

test_recommendations_entry_shape if {
	rs := scaling.recommendations with input as _input(
		_cfg(1, 10, [_util(50), _avg(10), _obj_value(5), {"sensor": "x", "source": "self", "target": {"type": "Utilization", "averageUtilization": 5}}]),
		{"replicas": 2, "qps": 7},
		[_pod(0, _R, true, {"cpu": 0.5, "cpu_req": 1, "qps": 10}), _pod(1, _R, true, {"cpu": 0.5, "cpu_req": 1, "qps": 10})],
		[], [],
	)
	rs[0] == {"index": 0, "sensor": "cpu", "source": "members", "target_type": "Utilization", "replicas": 2, "valid": true, "error": null, "utilization": 50}
	rs[1] == {"index": 1, "sensor": "qps", "source": "members", "target_type": "AverageValue", "replicas": 2, "valid": true, "error": null, "value": 10}
	rs[2] == {"index": 2, "sensor": "qps", "source": "self", "target_type": "Value", "replicas": 3, "valid": true, "error": null, "value": 7}
	rs[3] == {"index": 3, "sensor": "x", "source": "self", "target_type": "Utilization", "replicas": null, "valid": false, "error": "Utilization targets need source members", "utilization": null}
}

test_spec_errors if {
	rs := scaling.recommendations with input as _input(
		_cfg(1, 10, [
			"cpu",
			{"target": {"type": "Value", "value": 1}},
			{"sensor": "q", "source": "elsewhere", "target": {"type": "Value", "value": 1}},
			{"sensor": "q", "source": "self"},
			{"sensor": "q", "target": {"type": "Value", "value": 1}},
			{"sensor": "q", "target": {"type": "Utilization", "averageUtilization": 50.5}, "request_sensor": "r"},
			{"sensor": "q", "target": {"type": "Utilization", "averageUtilization": 50}},
			{"sensor": "q", "target": {"type": "AverageValue", "averageValue": 0}},
			{"sensor": "q", "source": "self", "target": {"type": "Value", "value": "1"}},
		]),
		{"replicas": 2}, _basic_children, [], [],
	)
	[r.error | some r in rs] == [
		"metric must be an object",
		"sensor must be a non-empty string",
		"source must be members or self",
		"target must be an object",
		"Value targets need source self",
		"target.averageUtilization must be a positive integer",
		"Utilization targets need a request_sensor",
		"target.averageValue must be a positive number",
		"target.value must be a positive number",
	]
}

test_invalid_metric_symptom_detail if {
	d := scaling.decision with input as _input(_cfg(1, 10, [_util(50), _obj_value(5)]), {"replicas": 2}, _basic_children, _seed(2), [])
	d.symptoms == [{"name": "metric_invalid", "severity": "warning", "detail": {"index": 1, "sensor": "qps", "error": "sensor qps of the cluster has no value"}}]
	d.reason == "within tolerance"
}

test_no_members_is_invalid if {
	r := scaling.recommendations[0] with input as _input(_basic_cfg, {"replicas": 2}, [], [], [])
	r.error == "no members"
}

test_object_value_without_members_is_invalid_only_outside_tolerance if {
	r1 := scaling.recommendations[0] with input as _input(_cfg(1, 10, [_obj_value(10)]), {"replicas": 2, "qps": 10}, [], [], [])
	r1.replicas == 2
	r2 := scaling.recommendations[0] with input as _input(_cfg(1, 10, [_obj_value(10)]), {"replicas": 2, "qps": 30}, [], [], [])
	r2.error == "no members"
}

test_missing_request_on_readded_member_is_invalid if {
	# scale-down with a missing member whose request is unknown
	r := scaling.recommendations[0] with input as _rc_cpu(3, 50, [100, 100], [1000, 1000], _ready(3), _running(3))
	r.valid == false
	r.error == "member shop/web/p2 has no valid request"
}

test_zero_requests_are_invalid if {
	r := scaling.recommendations[0] with input as _rc_cpu(2, 50, [100, 100], [0, 0], _ready(2), _running(2))
	r.error == "the cpu_req of the ready members sum to zero"
}

test_string_and_negative_values_count_as_missing if {
	classes := scaling.member_classes[0] with input as _input(
		_basic_cfg, {"replicas": 2}, [
			_pod(0, _R, true, {"cpu": "high"}),
			_pod(1, _R, true, {"cpu": -1}),
			_pod(2, "weird", true, {"cpu": 1}),
			{"id": "bare"},
		],
		[], [],
	)
	[c.class | some c in classes] == ["missing", "missing", "ready", "missing"]
}

test_observed_replicas_defaults_to_non_ignored_members if {
	inp := _input(
		_cfg(1, 10, [_obj_avg(1)]), {"replicas": 2, "qps": 8}, [
			_pod(0, _R, true, {}), _pod(1, "starting", false, {}), _pod(2, "stopped", false, {}),
		],
		[], [],
	)
	scaling.observed_replicas == 2 with input as inp
	r := scaling.recommendations[0] with input as inp
	r.replicas == 8
	r.value == 4
}

test_object_average_with_zero_observed_replicas if {
	r := scaling.recommendations[0] with input as _input(_cfg(0, 10, [_obj_avg(2)]), {"replicas": 0, "observed_replicas": 0, "qps": 5}, [], [], [])
	r.replicas == 3
	r.value == 5
}

# float64 corner cases, as Go computes them

test_f64_ceil_of_ratio_times_pods if {
	# Go: ceil(0.07 * 100) == ceil(7.000000000000001) == 8
	r := scaling.recommendations[0] with input as _rc_cpu(100, 100, _n(70, 100), _n(1000, 100), _ready(100), _running(100))
	r.utilization == 7
	r.replicas == 8
}

test_f64_exact_product_stays if {
	# Go: 0.7 * 10 == 7.0 exactly
	r := scaling.recommendations[0] with input as _rc_cpu(10, 100, _n(70, 10), _n(100, 10), _ready(10), _running(10))
	r.replicas == 7
}

test_f64_percent_scale_down_truncates if {
	# int32(10 * (1 - 0.15)) == int32(8.5) == 8
	d := _rate(10, 1, 1, 100, {"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 15, "periodSeconds": 60}]}}, [])
	d.desired_replicas == 8
	d.reason == "limited by scale-down policy"
}

test_f64_percent_scale_up_rounds_up if {
	# ceil(7 * (1 + 0.1)) == ceil(7.700000000000001) == 8
	d := _rate(7, 100, 1, 100, {"scaleUp": {"policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}}, [])
	d.desired_replicas == 8
}

test_f64_legacy_factor if {
	# int32(max(1.5 * 3, 4)) == 4; int32(max(1.5 * 5, 4)) == 7
	d1 := scaling.decision with input as _pre_in(3, 100, 1, 100, {"scale_up_limit_factor": 1.5}, [], [])
	d1.desired_replicas == 4
	d1.reason == "limited by scale-up limit"
	d2 := scaling.decision with input as _pre_in(5, 100, 1, 100, {"scale_up_limit_factor": 1.5}, [], [])
	d2.desired_replicas == 7
}

test_milli_values_round_up if {
	# 0.0001 qps is 1m for HPA (MilliValue rounds up): ratio 1m / 1m
	r := scaling.recommendations[0] with input as _rc_obj(2, _obj_value(0.0004), 0.0001, _ready(2))
	r.replicas == 2
	r.value == 0.001
}

# tolerance

test_tolerance_boundaries_are_inclusive if {
	# utilization exactly 110% and 90% of target: within the default band
	up := scaling.recommendations[0] with input as _rc_cpu(2, 100, [1100, 1100], [1000, 1000], _ready(2), _running(2))
	up.replicas == 2
	down := scaling.recommendations[0] with input as _rc_cpu(10, 100, _n(900, 10), _n(1000, 10), _ready(10), _running(10))
	down.replicas == 10
}

test_tolerance_just_outside if {
	up := scaling.recommendations[0] with input as _rc_cpu(2, 100, [1110, 1110], [1000, 1000], _ready(2), _running(2))
	up.replicas == 3
	down := scaling.recommendations[0] with input as _rc_cpu(10, 100, _n(890, 10), _n(1000, 10), _ready(10), _running(10))
	down.replicas == 9
}

test_configurable_tolerance if {
	cfg := object.union(_cfg(1, 100, [_util(100)]), {"tolerance": {"scale_up": 0, "scale_down": 0.5}})
	up := scaling.recommendations[0] with input as _input(cfg, {"replicas": 10}, _cpu_pods(_n(1010, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	up.replicas == 11
	down := scaling.recommendations[0] with input as _input(cfg, {"replicas": 10}, _cpu_pods(_n(600, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	down.replicas == 10
	far := scaling.recommendations[0] with input as _input(cfg, {"replicas": 10}, _cpu_pods(_n(400, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	far.replicas == 4
}

test_unready_members_damp_scale_up_for_any_metric if {
	# our members' readiness applies to every metric (HPA: CPU only)
	r := scaling.recommendations[0] with input as _rc_qps(3, 15, [50, 10, 30], [true, true, false], _running(3))
	r.replicas == 4
	r.value == 30
}

# windows and history

test_legacy_window_cutoff_is_inclusive if {
	inp := _pre_in(10, 3, 1, 100, {}, [{"replicas": 8, "time": _now - 300}], [])
	scaling.stabilized_recommendation == 8 with input as inp
	scaling.decision.reason == "scale-down stabilized" with input as inp
	inp2 := _pre_in(10, 3, 1, 100, {}, [{"replicas": 8, "time": _now - 300.5}], [])
	scaling.stabilized_recommendation == 3 with input as inp2
}

test_legacy_window_configurable if {
	inp := _pre_in(10, 3, 1, 100, {"downscale_stabilization_window_s": 60}, [{"replicas": 8, "time": _now - 120}], [])
	scaling.decision.desired_replicas == 3 with input as inp
}

test_behavior_window_cutoff_is_exclusive if {
	beh := {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}
	scaling.stabilized_recommendation == 3 with input as _pre_in(10, 3, 1, 100, beh, [{"replicas": 8, "time": _now - 300}], [])
	scaling.stabilized_recommendation == 8 with input as _pre_in(10, 3, 1, 100, beh, [{"replicas": 8, "time": _now - 299}], [])
}

test_behavior_scale_down_window_defaults_to_legacy_window if {
	beh := {"behavior": {}, "downscale_stabilization_window_s": 60}
	scaling.stabilized_recommendation == 3 with input as _pre_in(10, 3, 1, 100, beh, [{"replicas": 8, "time": _now - 120}], [])
	scaling.stabilized_recommendation == 8 with input as _pre_in(10, 3, 1, 100, {"behavior": {}}, [{"replicas": 8, "time": _now - 120}], [])
}

test_scale_up_stabilized_reason if {
	d := scaling.decision with input as _pre_in(2, 10, 1, 100, {"behavior": {"scaleUp": {"stabilizationWindowSeconds": 120}}}, [{"replicas": 4, "time": _now - 60}], [])
	d.desired_replicas == 4
	d.recommendation == 10
	d.reason == "scale-up stabilized"
}

test_garbage_history_entries_are_ignored if {
	inp := _pre_in(10, 3, 1, 100, {}, [{"replicas": "x", "time": _now}, {"time": _now}, 7, {"replicas": 9, "time": "now"}, null], [{"change": "a", "time": _now}])
	scaling.decision.desired_replicas == 3 with input as inp
}

test_selectpolicy_disabled if {
	up := _rate(2, 10, 1, 100, {"scaleUp": {"selectPolicy": "Disabled"}}, [])
	up.desired_replicas == 2
	up.actions == []
	up.reason == "scale-up disabled"
	down := _rate(10, 2, 1, 100, {"scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0}}, [])
	down.desired_replicas == 10
	down.reason == "scale-down disabled"
}

test_scaling_limited_symptom if {
	d := _rate(10, 50, 1, 1000, {}, [])
	d.symptoms == [{"name": "scaling_limited", "severity": "info", "detail": {
		"reason": "limited by scale-up policy",
		"recommendation": 50,
		"stabilized": 50,
		"desired_replicas": 20,
	}}]
}

test_scaling_disabled_symptom if {
	d := scaling.decision with input as _input(_basic_cfg, {"replicas": 0}, [], [], [])
	d.symptoms == [{"name": "scaling_inactive", "severity": "info", "detail": {"reason": "scaling disabled", "invalid_metrics": 0}}]
}

test_blocked_scale_down_symptom if {
	d := scaling.decision with input as _input(_cfg(1, 10, [_util(50), _obj_value(1)]), {"replicas": 4}, _cpu_pods(_n(100, 4), _n(1000, 4), _ready(4), _running(4)), [], [])
	d.reason == "invalid metric blocks scale-down"
	d.symptoms[1] == {"name": "scaling_inactive", "severity": "warning", "detail": {"reason": "invalid metric blocks scale-down", "invalid_metrics": 1}}
}

test_max_over_metrics if {
	d := scaling.decision with input as _input(
		_cfg(1, 100, [_util(50), _avg(10)]),
		{"replicas": 4},
		[_pod(idx, _R, true, {"cpu": 0.5, "cpu_req": 1, "qps": 30}) | some idx in numbers.range(0, 3)],
		[], [],
	)
	d.recommendation == 12
	[r.replicas | some r in scaling.recommendations] == [4, 12] with input as _input(
		_cfg(1, 100, [_util(50), _avg(10)]),
		{"replicas": 4},
		[_pod(idx, _R, true, {"cpu": 0.5, "cpu_req": 1, "qps": 30}) | some idx in numbers.range(0, 3)],
		[], [],
	)
}

test_recommendation_equals_current_reason if {
	# ratio 0.7 outside the band, but ceil(0.7 * 1 ready member) == 1 == current
	d := scaling.decision with input as _input(_cfg(1, 10, [_util(100)]), {"replicas": 1}, _cpu_pods([700], [1000], _ready(1), _running(1)), [], [])
	d.desired_replicas == 1
	d.reason == "recommendation equals current"
}

test_behavior_tolerance_overrides_tolerance if {
	# HPA's behavior.scaleUp.tolerance (configurable tolerance, Kubernetes 1.33+)
	cfg := object.union(_cfg(1, 100, [_util(100)]), {
		"tolerance": {"scale_up": 0.5},
		"behavior": {"scaleUp": {"tolerance": 0}},
	})
	r := scaling.recommendations[0] with input as _input(cfg, {"replicas": 10}, _cpu_pods(_n(1010, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	r.replicas == 11
	d := scaling.decision with input as _input(object.union(cfg, {"behavior": {"scaleDown": {"tolerance": "5%"}}}), {"replicas": 10}, [], [], [])
	d.reason == "misconfigured"
}

# The usual case and the general case of the same computation (the policy
# takes shortcuts for them; the results must not depend on which is taken)

_long_recs := array.concat(
	[{"replicas": 20, "time": _now - 301}, {"replicas": 9, "time": _now - 300}],
	[{"replicas": 4, "time": _now - t} | some t in numbers.range(10, 100)],
)

_garbage_recs := [
	{"replicas": "x", "time": _now}, {"replicas": 50, "time": "now"}, {"replicas": 2.5, "time": _now},
	{"replicas": 50}, 7, null, {"replicas": 50, "time": null},
]

test_long_history_windows if {
	# a history of more than 8 clean entries, and the same with unusable entries
	count(_long_recs) > 8
	_long_history_windows(_long_recs)
	_long_history_windows(array.concat(_long_recs, _garbage_recs))
}

# The legacy window includes its cutoff (9 at now - 300), behavior's excludes it.
_long_history_windows(recs) if {
	d := scaling.decision with input as _pre_in(10, 3, 1, 100, {}, recs, [])
	d.desired_replicas == 9
	d.reason == "scale-down stabilized"
	beh := {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}
	scaling.stabilized_recommendation == 4 with input as _pre_in(10, 3, 1, 100, beh, recs, [])
}

test_usual_and_other_tolerances_are_float64 if {
	# 0.2: 1 + 0.2 == 1.2 and 1 - 0.2 == 0.8 in float64, bounds included
	c20 := object.union(_cfg(1, 100, [_util(100)]), {"tolerance": {"scale_up": 0.2, "scale_down": 0.2}})
	up20 := scaling.recommendations[0] with input as _input(c20, {"replicas": 10}, _cpu_pods(_n(1200, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	up20.replicas == 10
	out20 := scaling.recommendations[0] with input as _input(c20, {"replicas": 10}, _cpu_pods(_n(1210, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	out20.replicas == 13
	down20 := scaling.recommendations[0] with input as _input(c20, {"replicas": 10}, _cpu_pods(_n(800, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	down20.replicas == 10
	low20 := scaling.recommendations[0] with input as _input(c20, {"replicas": 10}, _cpu_pods(_n(790, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	low20.replicas == 8

	# 0.07: 1 + 0.07 == 1.07, 1 - 0.07 == 0.9299999999999999 in float64
	c7 := object.union(_cfg(1, 100, [_util(100)]), {"tolerance": {"scale_up": 0.07, "scale_down": 0.07}})
	up7 := scaling.recommendations[0] with input as _input(c7, {"replicas": 10}, _cpu_pods(_n(1070, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	up7.replicas == 10
	out7 := scaling.recommendations[0] with input as _input(c7, {"replicas": 10}, _cpu_pods(_n(1080, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	out7.replicas == 11
	down7 := scaling.recommendations[0] with input as _input(c7, {"replicas": 10}, _cpu_pods(_n(930, 10), _n(1000, 10), _ready(10), _running(10)), [], [])
	down7.replicas == 10
	down7.utilization == 93
}

test_f64_legacy_factor_not_dyadic if {
	# int32(max(1.3 * 10, 4)) == 13; int32(max(1.3 * 3, 4)) == int32(max(3.9000000000000004, 4)) == 4
	d1 := scaling.decision with input as _pre_in(10, 100, 1, 100, {"scale_up_limit_factor": 1.3}, [], [])
	d1.desired_replicas == 13
	d1.reason == "limited by scale-up limit"
	d2 := scaling.decision with input as _pre_in(3, 100, 1, 100, {"scale_up_limit_factor": 1.3}, [], [])
	d2.desired_replicas == 4
}

test_equal_and_unequal_requests if {
	same := scaling.recommendations[0] with input as _rc_cpu(3, 50, [0.3, 0.3, 0.3], [0.5, 0.5, 0.5], _ready(3), _running(3))
	mixed := scaling.recommendations[0] with input as _rc_cpu(3, 50, [0.3, 0.3, 0.3], [0.25, 0.5, 0.75], _ready(3), _running(3))
	same.utilization == 60
	mixed.utilization == 60
	same.replicas == 4
	mixed.replicas == 4
}

test_members_that_are_not_objects if {
	# counted as running members without readiness or values
	classes := scaling.member_classes[0] with input as _input(
		_basic_cfg, {"replicas": 2}, [
			_pod(0, _R, true, {"cpu": 0.5, "cpu_req": 1}), 7, null,
		],
		[], [],
	)
	classes == [{"id": "shop/web/p0", "class": "ready"}, {"id": "#1", "class": "missing"}, {"id": "#2", "class": "missing"}]
}

test_tolerance_general_path_is_exact if {
	# a tolerance without a precomputed band: 1.07 is inside, 1.0700000005 outside
	cfg := object.union(_cfg(0, 1000, [_util(2000000000)]), {"tolerance": {"scale_up": 0.07}})
	edge := scaling.recommendations[0] with input as _input(cfg, {"replicas": 1}, _cpu_pods([21400000], [1], _ready(1), _running(1)), [], [])
	edge.utilization == 2140000000
	edge.replicas == 1
	above := scaling.recommendations[0] with input as _input(cfg, {"replicas": 1}, _cpu_pods([21400000.01], [1], _ready(1), _running(1)), [], [])
	above.utilization == 2140000001
	above.replicas == 2
}
