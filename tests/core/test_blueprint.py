"""Blueprints: every problem reported with file and line; valid ones build the tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autonomic.blueprint import load_blueprint, parse_blueprint
from autonomic.cli import main
from autonomic.errors import BlueprintError
from autonomic.mape import Mode

GOOD = """\
name: shop
defaults:
  interval: 3
entity:
  name: shop
  children:
    - name: web
      type: sim-web-cluster
      depends_on: [shop/db]
      config:
        initial_size: 2
        member: {type: sim-service}
      policies:
        - autonomic.scaling
        - package: my.policy
          record: [{field: score, history: scores, key: value}]
      manager:
        mode: dry-run
        triggers: {sensors: [demand_rps], child_sensors: [rps]}
    - name: db
      type: tests.core.entities_for_tests:Cluster
      config: {target: 4}
"""

MY_POLICY = "package my.policy\nimport rego.v1\ndecision := {}\n"


def write(tmp_path: Path, text: str, policy: str | None = MY_POLICY) -> Path:
    (tmp_path / "policies").mkdir(exist_ok=True)
    if policy is not None:
        (tmp_path / "policies" / "my.rego").write_text(policy)
        text = "policies: [policies/]\n" + text
    p = tmp_path / "bp.yaml"
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str, policy: str | None = MY_POLICY) -> list[str]:
    with pytest.raises(BlueprintError) as exc:
        load_blueprint(write(tmp_path, text, policy))
    return exc.value.problems


def test_a_good_blueprint_builds_its_tree(tmp_path: Path) -> None:
    bp = load_blueprint(write(tmp_path, GOOD))
    root, managed = bp.build()
    assert [e.id for e in root.walk()] == ["shop", "shop/web", "shop/db"]
    ((web, spec),) = managed
    assert web.id == "shop/web" and spec.settings.interval == 3 and spec.settings.mode is Mode.DRY_RUN
    assert [b.package for b in spec.bindings] == ["autonomic.scaling", "my.policy"]
    assert spec.bindings[0].histories[0].history == "recommendations"
    assert spec.bindings[1].histories[0].history == "scores"
    assert spec.settings.triggers.child_sensors == ("rps",)
    assert root.find("shop/db").config.target == 4.0  # type: ignore[union-attr]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, "entity:\n  name: [unclosed\n  type: x\n", policy=None)
    assert p.startswith(f"{tmp_path / 'bp.yaml'}:3: YAML:")


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = textwrap.dedent("""\
        entity:
          name: shop
          colour: blue
          children:
            - name: web
              type: sim-web-cluster
              config:
                initial_size: many
                member: {type: sim-service}
              policies: [autonomic.scaling, no.such.package]
              manager:
                interval: soon
                triggers: {sensors: [not_a_sensor]}
            - name: ghost
              type: no.such.module:Ghost
            - name: cache
              type: sim-service
              depends_on: [shop/nowhere]
            - name: cache
              type: sim-service
              manager: {interval: 1}
              policies: [autonomic.scaling]
            - name: db
              type: sim-service
              policies: [autonomic.scaling]
              manager:
                triggers: {sensors: [not_a_sensor]}
        """)
    found = problems(tmp_path, bad)
    text = "\n".join(found)
    f = str(tmp_path / "bp.yaml")
    expected = [
        (f"{f}:4: entity.colour: unknown key", "colour"),
        (f"{f}:9: entity.children[0].config.initial_size: invalid value for type, expected int", "initial_size"),
        (f"{f}:11: entity.children[0].policies[1].package: no loaded policy declares package 'no.such.package'", "pkg"),
        (f"{f}:13: entity.children[0].manager.interval: invalid value for type, expected float", "interval"),
        (f"{f}:16: entity.children[1].type: entity type 'no.such.module:Ghost': cannot import no.such.module", "type"),
        (f"{f}:19: entity.children[2].depends_on: shop/cache depends on 'shop/nowhere'", "depends"),
        (f"{f}:20: entity.children[3].name: shop already has a child named 'cache'", "dup"),
        (
            f"{f}:28: entity.children[4].manager.triggers.sensors: 'not_a_sensor' is not a sensor of sim-service",
            "sensor",
        ),
    ]
    for needle, label in expected:
        assert needle in text, f"{label}: {needle!r} not in:\n{text}"


def test_rego_syntax_error_in_a_blueprint_policy(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD, policy="package my.policy\nimport rego.v1\ndecision if {\n")
    assert len(found) == 1 and "my.rego:" in found[0] and "Rego error" in found[0]


def test_dependency_on_a_missing_entity(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("depends_on: [shop/db]", "depends_on: [shop/cache]"))
    assert any("depends on 'shop/cache', which is not an entity" in p for p in found)


def test_not_a_mapping() -> None:
    with pytest.raises(BlueprintError, match="must be a mapping"):
        parse_blueprint("- 1\n- 2\n", file="x.yaml")


def test_validate_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, GOOD)
    assert main(["validate", str(good)]) == 0
    assert "ok: 3 entities, 1 managed" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("entity:\n  type: nope\n")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: entity.type: unknown entity type 'nope'" in err and "1 problem(s)" in err


def test_the_example_blueprint_validates(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).parents[2] / "examples" / "simulated" / "blueprint.yaml"
    assert main(["validate", str(example)]) == 0
