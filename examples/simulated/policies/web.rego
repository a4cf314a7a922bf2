# A small policy for the simulated web tier: keep requests per member near a
# target, and restart members that are on fire. The library's policies
# (autonomic.scaling, autonomic.failover) do the same with HPA-grade care.
package example.web

import rego.v1

cfg := object.union({"target_rps": 80, "min": 1, "max": 10}, object.get(input.entity.config, "scaling", {}))

replicas := input.entity.sensors.replicas

demand := object.get(input.entity.sensors, "demand_rps", null)

desired := min([cfg.max, max([cfg.min, ceil(demand / cfg.target_rps)])]) if demand != null

# A resize is pending or running: wait for it before deciding again.
resizing if {
	some a in input.knowledge.actions
	a.effector == "resize"
	a.status in {"pending", "running"}
}

crashed contains child.id if {
	some child in input.children
	child.lifecycle == "on_fire"
}

scale_actions := [{
	"target": "self",
	"effector": "resize",
	"args": {"replicas": desired},
	"reason": sprintf("demand %.0f rps / target %v rps per member", [demand, cfg.target_rps]),
}] if {
	not resizing
	desired != replicas
} else := []

restart_actions := [{
	"target": id,
	"effector": "restart",
	"args": {},
	"reason": "member is on fire",
} | some id in crashed]

decision := {
	"symptoms": [{"name": "member_on_fire", "severity": "warning", "detail": {"member": id}} | some id in crashed],
	"actions": array.concat(scale_actions, restart_actions),
	"escalate": [],
	"remember": {"last_demand": demand},
}
