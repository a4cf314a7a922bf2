"""Tokens (file, environment, mistakes) and the authorization policy as the API evaluates it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autonomic.api.auth import ENV_TOKENS, TokenSet, bearer_token, load_tokens
from autonomic.api.authz import load_authorizer
from autonomic.api.errors import ApiConfigError
from autonomic.clock import VirtualClock

TOKEN_A = "a" * 20
TOKEN_B = "b-" * 10


def test_tokens_from_file_and_environment(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text(f"# operators\nalice:{TOKEN_A}\n\n  bob : {TOKEN_B}  \n")
    f.chmod(0o600)
    tokens = load_tokens(f, {ENV_TOKENS: f"ci:{'c' * 32}, deploy:{'d:' * 10}\n"})
    assert tokens.names == ["alice", "bob", "ci", "deploy"]
    assert tokens.subject(TOKEN_A) == "alice"
    assert tokens.subject(TOKEN_B) == "bob"
    assert tokens.subject("d:" * 10) == "deploy"  # a token may contain ':'
    assert tokens.subject("a" * 19) is None
    assert tokens.subject("") is None


def test_token_mistakes_are_reported_with_their_place(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text(f"alice:{TOKEN_A}\nno-colon\nbob:short\nalice:{TOKEN_B}\ncarol:{TOKEN_A}\nbad name:{TOKEN_B}x\n")
    with pytest.raises(ApiConfigError) as exc:
        load_tokens(f, {})
    text = str(exc.value)
    for expected in (
        f"{f}:2: expected name:token",
        f"{f}:3: the token of 'bob' must be at least 16",
        f"{f}:4: token name 'alice' is given twice",
        f"{f}:5: the token of 'carol' is also the token of 'alice'",
        f"{f}:6: token name 'bad name' must match",
    ):
        assert expected in text
    assert TOKEN_A not in text  # secrets stay out of error messages


def test_no_tokens_at_all_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ApiConfigError, match="at least one token"):
        load_tokens(None, {})
    f = tmp_path / "empty"
    f.write_text("# nobody yet\n")
    with pytest.raises(ApiConfigError, match="at least one token"):
        load_tokens(f, {})
    with pytest.raises(ApiConfigError, match="cannot read the API tokens file"):
        load_tokens(tmp_path / "missing", {})


def test_environment_is_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, ENV_TOKENS, f"env:{TOKEN_A}")
    assert load_tokens().names == ["env"]


def test_bearer_header_parsing() -> None:
    assert bearer_token(f"Bearer {TOKEN_A}") == TOKEN_A
    assert bearer_token(f"bearer   {TOKEN_A} ") == TOKEN_A
    for header in (None, "", "Bearer", "Bearer ", f"Basic {TOKEN_A}", TOKEN_A):
        assert bearer_token(header) is None


def test_token_set_keeps_only_digests() -> None:
    tokens = TokenSet.parse([("x", f"alice:{TOKEN_A}")])
    assert TOKEN_A not in repr(tokens)


@pytest.mark.anyio
async def test_library_policy_allows_reading_only() -> None:
    authz = load_authorizer(clock=VirtualClock())
    assert (await authz.check("bob", "read", {"route": "list_entities", "path": "/v1/entities"})).allowed
    denied = await authz.check("bob", "invoke", {"entity": "shop/web", "effector": "resize", "args": {}})
    assert not denied.allowed
    assert (
        denied.reason == 'subject "bob" may not invoke shop/web.resize: no grant in package autonomic.authz allows it'
    )
    assert not (await authz.check("bob", "set_mode", {"entity": "shop", "mode": "paused"})).allowed
    assert not (await authz.check("bob", "approve", {"action": "A1"})).allowed


@pytest.mark.anyio
async def test_operator_files_grant_more(tmp_path: Path) -> None:
    (tmp_path / "ops.rego").write_text(
        """package autonomic.authz

import rego.v1

grants contains {"subject": "alice", "actions": ["invoke"], "entities": ["shop/web/**"], "effectors": ["restart"]}

allow if {
	input.subject == "root"
	input.action != "approve"
}
"""
    )
    authz = load_authorizer([tmp_path], clock=VirtualClock())
    assert (await authz.check("alice", "invoke", {"entity": "shop/web/m1", "effector": "restart"})).allowed
    assert not (await authz.check("alice", "invoke", {"entity": "shop/web/m1", "effector": "stop"})).allowed
    assert (await authz.check("root", "set_mode", {"entity": "anything", "mode": "paused"})).allowed
    assert not (await authz.check("root", "approve", {"action": "A1"})).allowed


@pytest.mark.anyio
async def test_broken_policies_fail_at_start_or_deny(tmp_path: Path) -> None:
    (tmp_path / "syntax.rego").write_text("package autonomic.authz\n\nallow if {\n")
    with pytest.raises(ApiConfigError, match=r"does not load: .*syntax.rego"):
        load_authorizer([tmp_path / "syntax.rego"])
    with pytest.raises(ApiConfigError, match="no such policy file"):
        load_authorizer([tmp_path / "missing.rego"])
    # A runtime error while evaluating denies (fail closed), with the reason.
    (tmp_path / "boom.rego").write_text(
        'package autonomic.authz\n\nimport rego.v1\n\nallow if {\n\tinput.subject == "x"\n\t1 / 0 == 1\n}\n'
    )
    authz = load_authorizer([tmp_path / "boom.rego"], clock=VirtualClock())
    verdict = await authz.check("x", "invoke", {"entity": "e", "effector": "f"})
    assert not verdict.allowed
    assert "the authorization policy failed" in verdict.reason
