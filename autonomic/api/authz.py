"""Authorization: what a subject may do, decided by the Rego package ``autonomic.authz``.

The input is ``{"subject": token name, "action": "read" | "invoke" |
"set_mode" | "approve", "resource": {...}}`` and the answer is
``data.autonomic.authz.allow``; only ``true`` allows. When it does not,
``data.autonomic.authz.reasons`` (a set of strings) says why, for the 403.
The library's ``authz.rego`` allows reading to every authenticated subject
and nothing else; operators grant more in their own files of the same
package (see ``docs/api.md``). A policy that fails to evaluate denies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import structlog

from autonomic.api.errors import ApiConfigError
from autonomic.clock import Clock, SystemClock
from autonomic.errors import PolicyError
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import PolicyEngine, PolicySet, library_path

__all__ = ["ACTIONS", "AUTHZ_PACKAGE", "Authorizer", "Verdict", "load_authorizer"]

AUTHZ_PACKAGE = "autonomic.authz"
#: what a subject can ask to do
ACTIONS = ("read", "invoke", "set_mode", "approve")

_ALLOW = f"data.{AUTHZ_PACKAGE}.allow"
_REASONS = f"data.{AUTHZ_PACKAGE}.reasons"


@attrs.frozen(kw_only=True)
class Verdict:
    """The policy's answer: allowed or not, and why not."""

    allowed: bool
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The reasons as one sentence."""
        return "; ".join(self.reasons)


@attrs.define(eq=False)
class Authorizer:
    """Evaluates ``autonomic.authz`` for each request that needs it."""

    engine: PolicyEngine
    log: Any = attrs.field(factory=lambda: structlog.get_logger("autonomic.api"))

    async def check(self, subject: str | None, action: str, resource: dict[str, Any]) -> Verdict:
        """Whether ``subject`` may do ``action`` on ``resource``."""
        doc = {"subject": subject, "action": action, "resource": resource}
        input_json = json.dumps(doc, allow_nan=False, default=str)
        try:
            allowed = await self.engine.evaluate(_ALLOW, input_json)
            if allowed is True:
                return Verdict(allowed=True)
            reasons = await self.engine.evaluate(_REASONS, input_json)
        except PolicyError as exc:
            self.log.error("authz_policy_error", subject=subject, action=action, error=str(exc))
            return Verdict(allowed=False, reasons=(f"the authorization policy failed, so nothing is allowed: {exc}",))
        texts = sorted(str(r) for r in reasons) if isinstance(reasons, list) else []
        return Verdict(allowed=False, reasons=tuple(texts) or (f"{_ALLOW} is not true for this request",))


def load_authorizer(
    extra: Sequence[str | Path] = (), *, clock: Clock | None = None, timeout: float = 2.0
) -> Authorizer:
    """The library's ``authz.rego`` plus the operator's files and folders in ``extra``.

    Compiled now, so a broken operator policy stops the supervisor at start
    with the file and line, rather than denying every request later.
    """
    clock = clock or SystemClock()
    try:
        policies = PolicySet.from_paths([library_path() / "authz.rego", *extra])
        engine = EmbeddedEngine(policies, offload=not clock.is_virtual, timeout=timeout, clock=clock)
    except PolicyError as exc:
        raise ApiConfigError(f"the authorization policy does not load: {exc}") from None
    return Authorizer(engine=engine)
