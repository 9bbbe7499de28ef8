"""Docs stay true to the code: docs/odd.md is what docs/build_odd.py generates."""

import importlib.util
from pathlib import Path

import govsim
from govsim.config import iter_params
from govsim.metrics import output_names

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _builder():
    spec = importlib.util.spec_from_file_location("build_odd", DOCS / "build_odd.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_odd_is_generated_from_the_schema():
    text = (DOCS / "odd.md").read_text()
    assert text == _builder().render(), "docs/odd.md is stale: run `python docs/build_odd.py`"


def test_odd_lists_every_parameter_and_output():
    text = (DOCS / "odd.md").read_text()
    for p in iter_params():
        assert f"| `{p.key}` |" in text
    for name in output_names():
        assert f"| `{name}` |" in text


def test_readme_opens_with_the_two_commands():
    readme = (DOCS.parent / "README.md").read_text()
    first = readme.split("```")[1]
    assert "make demo" in first and "make test" in first


def test_public_api_names():
    for name in ["GovModel", "load_scenario", "Scenario", "ScenarioError", "register_rule", "AdoptionRule"]:
        assert hasattr(govsim, name)
