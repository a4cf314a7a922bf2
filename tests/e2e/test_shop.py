"""The shop example, end to end: a surge, a killed worker, a killed site, and the failback.

One shop for the module (starting two PostgreSQL servers, HAProxy and the
workers takes a few seconds; the scenarios leave it healthy for the next):
``examples/shop/blueprint.yaml`` run by an in-process Supervisor, rewritten
by ``scenarios.run_shop`` to a temporary folder and free loopback ports. The
tests drive it with the scenario functions the command line uses and assert
what they measured from outside (through HAProxy, the workers' ``/health``,
the servers asked directly). When the module ends the shop is stopped and
``run_shop`` fails if any process outlived it.

The tests run in file order: the failback test continues from the failover
(run alone, it fails over first).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.binaries import require_binary

SHOP_DIR = Path(__file__).parents[2] / "examples" / "shop"
sys.path.insert(0, str(SHOP_DIR))

# examples/shop is a folder of scripts, not a package: mypy finds it only with MYPYPATH=examples/shop.
from scenarios import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    Shop,
    failback,
    kill_site,
    kill_worker,
    leftover_pids,
    run_shop,
    surge,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so that the shop fixture can span the module's tests."""
    return "asyncio"


def _servers_available() -> None:
    require_binary("haproxy", "haproxy")
    initdb = require_binary("initdb", "postgresql", extra_globs=("/usr/lib/postgresql/*/bin",)).resolve()
    for program in ("postgres", "pg_basebackup", "pg_rewind"):
        assert (initdb.parent / program).exists(), f"{program} missing beside {initdb}"
    if os.geteuid() == 0:  # PostgreSQL refuses root: the servers run as postgres
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/postgresql", "postgres"], check=True
            )


@pytest.fixture(scope="module")
async def shop(anyio_backend: str) -> AsyncIterator[Shop]:
    """The shop, running; stopped after the module's tests, with no process left (run_shop checks)."""
    _servers_available()
    started = time.monotonic()
    async with run_shop(ready_timeout=90) as s:
        print(f"shop ready in {time.monotonic() - started:.1f} s")
        yield s
        run_dir = s.run_dir
    assert run_dir is not None and not leftover_pids(run_dir)


async def test_a_surge_scales_the_web_tier_out_then_back_in(shop: Shop) -> None:
    result = await surge(shop, rps=90, duration=12, settle_timeout=50)
    print("\n".join(result.report()))
    # 90 rps at 15 per worker wants 6 (the maximum); the tier starts at 2.
    assert result.before == 2
    assert result.peak >= 4, result.report()
    assert result.scale_out_s is not None and result.scale_out_s < 10
    # The scale-down window is 20 s: back to the minimum once it has passed, not before.
    assert result.after == 2 and result.scale_in_s is not None, result.report()
    assert 15 <= result.scale_in_s <= 45
    assert result.load["acked_writes"] > 0.9 * result.load["sent"]


async def test_a_killed_worker_is_serving_again_within_seconds(shop: Shop) -> None:
    result = await kill_worker(shop)
    print("\n".join(result.report()))
    assert result.healthy_s is not None and result.healthy_s < 10, result.report()
    assert result.in_rotation_s is not None and result.in_rotation_s < 15, result.report()
    assert any(s.endswith((".restart:ok", ".replace_member:ok")) for s in result.steps), result.actions


async def test_killing_the_primary_site_fails_over_losing_no_acknowledged_write(shop: Shop) -> None:
    result = await kill_site(shop)
    print("\n".join(result.report()))
    assert result.killed == "site-a" and result.promoted == "site-b", result.report()
    assert result.acked_writes > 50
    assert result.lost_writes == [], "synchronous replication: every acknowledged write survives"
    # grace_s 3 + a round + fence/promote/repoint: a few seconds; far less than the 60 s allowed.
    assert result.rto_s is not None and 2 < result.rto_s < 20, result.report()
    assert result.policy_rto_s is not None and result.policy_rto_s < 20
    # Never two primaries: not by the servers themselves, not by the sites' sensors.
    assert result.samples.max_writable == 1
    assert result.samples.max_by_sensor == 1
    assert len(result.samples.points) > 30
    # The plan, in order: fence the old primary, promote the standby, repoint; all done.
    plan = [s for s in result.steps if s.split(":")[0].split(".")[-1] in ("fence", "promote", "repoint")]
    assert plan[:3] == ["shop/site-a.fence:ok", "shop/site-b.promote:ok", "shop.repoint:ok"], result.actions


async def test_the_old_primary_rejoins_as_a_standby_then_takes_over_again(shop: Shop) -> None:
    result = await failback(shop)
    print("\n".join(result.report()))
    assert result.rejoined_s is not None, "site-a never streamed from site-b"
    assert result.failed_back_s is not None and result.synchronous_s is not None, result.report()
    assert await shop.primary() is shop.layout.home
    assert await shop.streaming(shop.layout.home, shop.layout.site("site-b")) == "sync"
    assert result.lost_writes == []
    assert result.samples.max_writable == 1 and result.samples.max_by_sensor == 1
    assert result.failback_gap_s is not None and result.failback_gap_s < 10
