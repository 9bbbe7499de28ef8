"""Scenario schema: types, ranges, unknown keys, overrides, arms and events."""

import pytest

import govsim
from govsim.config import get_param, iter_params, load_scenario, parse_value


def test_baseline_loads_with_defaults_and_file_values():
    sc = load_scenario("baseline")
    assert sc.name == "baseline"
    assert sc["adoption.rule"] == "utility"
    assert sc["adoption.initial_share"] == pytest.approx(0.28)
    assert sc.network.kind == "homophily"
    assert sc.network.homophily.mixing == pytest.approx(0.3)
    # a key the file does not set keeps its default
    assert sc["learning.by_use"] == get_param("learning.by_use").default


def test_overrides_are_dotted_and_typed():
    sc = load_scenario("baseline", {"adoption.rule": "bass", "citizens.n": 20000})
    assert sc["adoption.rule"] == "bass" and sc["citizens.n"] == 20000
    # ints are accepted for floats, integral floats for ints
    assert load_scenario("baseline", {"adoption.p": 0})["adoption.p"] == 0.0
    assert load_scenario("baseline", {"citizens.n": 500.0})["citizens.n"] == 500


@pytest.mark.parametrize(
    "overrides, key, fragment",
    [
        ({"citizens.nn": 5}, "citizens.nn", "did you mean 'citizens.n'"),
        ({"adoption.rule": "bas"}, "adoption.rule", "did you mean 'bass'"),
        ({"citizens.n": 0}, "citizens.n", ">= 1"),
        ({"adoption.p": 1.5}, "adoption.p", "<= 1"),
        ({"citizens.n": "many"}, "citizens.n", "expected integer"),
        ({"channels.offline_open": 1}, "channels.offline_open", "expected boolean"),
        ({"citizens.n": True}, "citizens.n", "expected integer"),
        ({"citizens.age_shares": [0.5, 0.5, 0.5]}, "citizens.age_shares", "sum to 1"),
        ({"citizens.age_shares": [0.5, 0.5]}, "citizens.age_shares", "list of 3"),
        ({"adoption.p": float("nan")}, "adoption.p", "finite"),
        ({"citizens.n": 10, "adoption.initial_adopters": 11}, "adoption.initial_adopters", "<= citizens.n"),
    ],
)
def test_invalid_values_name_the_key(overrides, key, fragment):
    with pytest.raises(govsim.ScenarioError) as info:
        load_scenario("baseline", overrides)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_in_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[citizens]\nnn = 3\n")
    with pytest.raises(govsim.ScenarioError, match="citizens.nn: unknown parameter .did you mean 'citizens.n'"):
        load_scenario(f)


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(govsim.ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.toml")
    f = tmp_path / "broken.toml"
    f.write_text("[citizens\nn = 3\n")
    with pytest.raises(govsim.ScenarioError, match="cannot parse"):
        load_scenario(f)
    with pytest.raises(govsim.ScenarioError, match="no scenario named 'basline'.*did you mean 'baseline'"):
        load_scenario("basline")


def test_every_param_is_documented_and_its_default_valid():
    params = iter_params()
    assert len(params) > 40
    for p in params:
        assert p.doc and p.unit, p.key
        assert p.validate(p.default) == p.default or isinstance(p.default, tuple)
        if p.type in (int, float) and p.length is None:
            assert p.low is not None and p.high is not None, f"{p.key} needs a range"


def test_parse_value_from_strings():
    assert parse_value("citizens.n", "2000") == 2000
    assert parse_value("adoption.p", "0.05") == 0.05
    assert parse_value("channels.offline_open", "false") is False
    assert parse_value("citizens.age_shares", "0.3,0.4,0.3") == (0.3, 0.4, 0.3)
    with pytest.raises(govsim.ScenarioError, match="citizens.n"):
        parse_value("citizens.n", "2.5")
    with pytest.raises(govsim.ScenarioError, match="channels.offline_open"):
        parse_value("channels.offline_open", "maybe")


def test_arms_and_events(tmp_path):
    f = tmp_path / "arms.toml"
    f.write_text(
        '[scenario]\nname = "t"\n[citizens]\nn = 300\n'
        '[arms.closed]\n"channels.offline_open" = false\n'
        '[arms.bass.adoption]\nrule = "bass"\n'
        '[[events]]\nstep = 3\ntype = "set"\nkey = "adoption.p"\nvalue = 0.5\n'
    )
    sc = load_scenario(f)
    assert set(sc.arms) == {"closed", "bass"}
    assert sc.arm("closed")["channels.offline_open"] is False
    assert sc.arm("bass")["adoption.rule"] == "bass"
    assert sc["channels.offline_open"] is True
    assert sc.events[0]["key"] == "adoption.p"
    with pytest.raises(govsim.ScenarioError, match="unknown arm 'clsed'.*did you mean 'closed'"):
        sc.arm("clsed")


@pytest.mark.parametrize(
    "event, fragment",
    [
        ('step = 3\ntype = "sett"\nkey = "adoption.p"\nvalue = 0.5', "unknown event type 'sett'"),
        ('step = 0\ntype = "set"\nkey = "adoption.p"\nvalue = 0.5', "step >= 1"),
        ('step = 3\ntype = "set"\nkey = "adoption.p"\nvalue = 5.0', "adoption.p: must be <= 1"),
        ('step = 3\ntype = "set"\nkey = "citizens.n"\nvalue = 5', "cannot be set during a run"),
        ('step = 3\ntype = "set"\nkey = "adoption.p"\nvalu = 0.5', "unknown field"),
    ],
)
def test_bad_events(tmp_path, event, fragment):
    f = tmp_path / "ev.toml"
    f.write_text(f"[[events]]\n{event}\n")
    with pytest.raises(govsim.ScenarioError, match=fragment):
        load_scenario(f)


def test_set_event_changes_parameter_at_its_step():
    sc = load_scenario("baseline", {"citizens.n": 300})
    from govsim.config import Scenario

    sc = Scenario(sc.name, sc.values, {}, ({"step": 3, "type": "set", "key": "awareness.p", "value": 1.0},))
    m = govsim.GovModel(sc, rng=0)
    m.step(); m.step()
    assert m.params["awareness.p"] == sc["awareness.p"]
    m.step()
    assert m.params["awareness.p"] == 1.0
    assert m.citizens.aware.all()  # publicity reaches everybody once p = 1


def test_packaged_scenarios_are_copies_of_the_scenario_files():
    """govsim/scenarios/ ships the repository's scenarios/*.toml; run `make scenarios` after editing them."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    repo = {f.name: f.read_bytes() for f in (root / "scenarios").glob("*.toml")}
    packaged = {f.name: f.read_bytes() for f in (root / "govsim" / "scenarios").glob("*.toml")}
    assert sorted(packaged) == sorted(repo), "packaged scenario files differ from scenarios/: run `make scenarios`"
    stale = [name for name in repo if packaged[name] != repo[name]]
    assert not stale, f"stale packaged copies {stale}: run `make scenarios`"
