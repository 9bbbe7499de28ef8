"""Service channels: rationing, queues, fallback chain, conservation of needs, bounds."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import govsim
from govsim import channels
from govsim.channels import (GROUP_NAMES, NO_NEED, QUEUED, SERVED_ASSISTED, SERVED_OFFLINE, SERVED_ONLINE, UNMET,
                             ration)
from govsim.citizens import AGE_GROUPS


def model(overrides=None, seed=1, n=2000):
    sc = govsim.load_scenario("baseline", {"citizens.n": n, **(overrides or {})})
    return govsim.GovModel(sc, rng=seed)


QUALITY = {"coverage": 0.9, "usability": 0.6, "integration": 0.5, "reliability": 0.97, "security": 0.99}


@pytest.fixture
def fixed_quality(monkeypatch):
    """Freeze the quality citizens meet online (platforms and governments then do not move it)."""
    import govsim.model as gm

    def fix(**q):
        values = {**QUALITY, **q}
        monkeypatch.setattr(gm, "regional_quality",
                            lambda m: {k: np.full(m.n_regions, float(v)) for k, v in values.items()})
        return values

    return fix


# -- rationing ---------------------------------------------------------------------
def test_ration_serves_longest_wait_first_and_finishes_the_case_in_hand():
    rng = np.random.default_rng(0)
    region = np.array([0, 0, 0, 0, 1, 1])
    cost = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    waited = np.array([0, 3, 1, 2, 0, 0])
    cap = np.array([2.5, 0.0])
    served = ration(region, cost, waited, cap, rng)
    # region 0: order by wait 3, 2, 1, 0 -> hours before: 0, 1, 2 (< 2.5: started), 3 (no)
    assert served.tolist() == [False, True, True, True, False, False]


def test_ration_fits_without_drawing_and_breaks_ties_at_random():
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    served = ration(np.array([0, 1, 1]), np.array([1.0, 1.0, 1.0]), np.zeros(3, int), np.array([1.0, 5.0]), rng)
    assert served.all() and rng.bit_generator.state == state  # demand fits: no random key drawn
    # ties (same wait) in an over-demanded region: each citizen first about half the time
    firsts = [ration(np.zeros(2, int), np.ones(2), np.zeros(2, int), np.array([0.5]), rng)[0] for _ in range(400)]
    assert 0.4 < np.mean(firsts) < 0.6


def test_ration_zero_capacity_serves_nobody_unless_free():
    served = ration(np.zeros(3, int), np.array([1.0, 0.0, 2.0]), np.zeros(3, int), np.array([0.0]),
                    np.random.default_rng(0))
    assert served.tolist() == [False, True, False]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_ration_properties(data):
    m = data.draw(st.integers(1, 60))
    n_regions = data.draw(st.integers(1, 3))
    region = np.array(data.draw(st.lists(st.integers(0, n_regions - 1), min_size=m, max_size=m)))
    cost = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5]), min_size=m, max_size=m)))
    waited = np.array(data.draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)))
    cap = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.3, 1.0, 2.0, 5.0, 100.0]),
                                      min_size=n_regions, max_size=n_regions)))
    served = ration(region, cost, waited, cap, np.random.default_rng(data.draw(st.integers(0, 99))))
    assert served[cost == 0].all()
    for r in range(n_regions):
        inr = (region == r) & (cost > 0)
        used = cost[inr & served].sum()
        if (inr & ~served).any():
            assert used >= cap[r] - 1e-9  # capacity exhausted before anyone is turned away
            # nobody who waited less is served ahead of someone who waited more
            assert waited[inr & served].min(initial=99) >= waited[inr & ~served].max()
        if (inr & served).any():
            assert used - cost[inr & served].max() < cap[r] + 1e-9  # at most the case in hand overruns


# -- conservation ------------------------------------------------------------------
def group_of(pop):
    return pop.urban.astype(int) * len(AGE_GROUPS) + pop.age_group


def check_step_conservation(m, pending_before):
    """needs arising + queued before = served (by channel) + queued after + unmet, per group, from citizen arrays."""
    pop = m.citizens
    g = group_of(pop)
    handled = m.step_needs + pending_before
    out = m.step_outcome
    pending_after = m.channel_state.pending
    for k in range(len(GROUP_NAMES)):
        in_k = g == k
        arising = int(m.step_needs[in_k].sum()) + int(pending_before[in_k].sum())
        ended = {code: int(handled[in_k & (out == code)].sum())
                 for code in (SERVED_ONLINE, SERVED_OFFLINE, SERVED_ASSISTED, UNMET, QUEUED)}
        assert arising == sum(ended.values())
        assert ended[QUEUED] == int(pending_after[in_k].sum())
        # the reported group tallies agree with the citizen arrays
        gr = m.step_groups
        assert gr["needs"][k] + gr["queued_before"][k] == arising
        assert gr["online"][k] == ended[SERVED_ONLINE] and gr["offline"][k] == ended[SERVED_OFFLINE]
        assert gr["assisted"][k] == ended[SERVED_ASSISTED] and gr["unmet"][k] == ended[UNMET]
        assert gr["queued"][k] == ended[QUEUED]
    # citizens without needs or queue have no outcome
    assert (out[(handled == 0)] == NO_NEED).all()
    # cumulative, per citizen: arisen = served + unmet + waiting
    np.testing.assert_array_equal(pop.needs_total, pop.served + pop.unmet + pending_after)


def run_checked(m, steps):
    rows = []
    for _ in range(steps):
        before = m.channel_state.pending.copy()
        m.step()
        check_step_conservation(m, before)
        c = m.step_counts
        assert c["needs"] + c["queued_before"] == (c["needs_online"] + c["needs_offline"] + c["needs_assisted"]
                                                   + c["needs_unmet"] + c["needs_queued"])
        rows.append(dict(c))
    return rows


def test_conservation_with_queues_policy_switches_and_assisted():
    """Scarce capacity (queues, patience), assisted on, then digital-only and assisted off by events."""
    sc = govsim.load_scenario("baseline", {"citizens.n": 3000, "cadres.per_10k_citizens": 2.0,
                                           "assisted.enabled": True, "assisted.helpers_per_10k": 2.0,
                                           "channels.patience": 2})
    from govsim.config import Scenario

    events = ({"step": 6, "type": "set", "key": "channels.offline_open", "value": False},
              {"step": 10, "type": "set", "key": "assisted.enabled", "value": False},
              {"step": 13, "type": "set", "key": "channels.offline_open", "value": True})
    sc = Scenario(sc.name, sc.values, {}, events)
    m = govsim.GovModel(sc, rng=3)
    rows = run_checked(m, 16)
    assert sum(r["needs_queued"] for r in rows) > 0  # queues formed
    assert sum(r["needs_assisted"] for r in rows[:9]) > 0
    assert all(r["needs_assisted"] == 0 for r in rows[10:])  # assisted closed at step 10
    assert rows[10]["needs_unmet"] > 0  # its queue had nowhere to go (offline closed too)


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 300))
    return {
        "citizens.n": n,
        "regions.n": draw(st.integers(1, min(4, n))),
        "network.kind": draw(st.sampled_from(["erdos_renyi", "homophily", "complete", "barabasi_albert"])),
        "adoption.rule": draw(st.sampled_from(["utility", "utility", "bass", "threshold"])),
        "channels.offline_open": draw(st.booleans()),
        "assisted.enabled": draw(st.booleans()),
        "assisted.helpers_per_10k": draw(st.sampled_from([0.0, 3.0, 500.0])),
        "cadres.per_10k_citizens": draw(st.sampled_from([0.0, 0.5, 6.0, 100.0])),
        "channels.patience": draw(st.integers(0, 3)),
        "platform.coverage": draw(st.floats(0.0, 1.0)),
        "platform.reliability": draw(st.sampled_from([0.0, 0.5, 0.97, 1.0])),
        "training.budget": draw(st.sampled_from([0.0, 100.0, 10_000.0])),
        "training.target": draw(st.sampled_from(["all", "elderly", "rural", "elderly_rural"])),
        "channels.elderly_usability_boost": draw(st.floats(0.0, 1.0)),
        "learning.lapse_prob": draw(st.sampled_from([0.0, 1.0])),
        "learning.lapse_threshold": draw(st.floats(0.0, 1.0)),
        "citizens.need_rate": draw(st.sampled_from([(0.25, 0.35, 0.45), (3.0, 0.0, 8.0)])),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=scenarios(), seed=st.integers(0, 2**32))
def test_conservation_and_bounds_over_random_scenarios(overrides, seed):
    m = govsim.GovModel(govsim.load_scenario("baseline", overrides), rng=seed)
    run_checked(m, 5)
    pop = m.citizens
    for name in ("literacy", "trust", "satisfaction", "expectation"):
        a = getattr(pop, name)
        assert ((a >= 0) & (a <= 1)).all(), name
    df = m.results()
    assert not df.isna().any().any()
    assert (df.filter(like="exclusion_rate") >= 0).all().all()


# -- channels and capacity -----------------------------------------------------------
def test_zero_cadre_capacity_leaves_all_offline_demand_unmet():
    m = model({"cadres.per_10k_citizens": 0.0, "channels.patience": 2}, n=3000)
    rows = run_checked(m, 12)
    assert all(r["needs_offline"] == 0 and r["needs_assisted"] == 0 for r in rows)
    # every need that did not go online ends unmet (or is still waiting out its patience)
    arisen = sum(r["needs"] for r in rows)
    online = sum(r["needs_online"] for r in rows)
    unmet = sum(r["needs_unmet"] for r in rows)
    assert unmet > 0 and arisen == online + unmet + rows[-1]["needs_queued"]
    # patience 0: unmet in the step itself, no queue
    m = model({"cadres.per_10k_citizens": 0.0, "channels.patience": 0}, n=3000)
    for r in run_checked(m, 4):
        assert r["needs_queued"] == 0 and r["needs_unmet"] == r["needs"] - r["needs_online"] > 0


def test_capacity_is_read_from_cadres_service_hours(monkeypatch):
    """serve_needs consumes model.service_capacity (cadres.service_hours) rather than recomputing it."""
    import govsim.model as gm

    monkeypatch.setattr(gm, "service_hours", lambda model: np.zeros(model.n_regions))
    m = model({"channels.patience": 0}, n=1500)
    rows = run_checked(m, 3)
    assert all(r["needs_offline"] == 0 and r["needs_unmet"] > 0 for r in rows)


def test_queue_waits_cost_time_and_give_up_after_patience():
    scarce = {"cadres.per_10k_citizens": 1.5, "channels.patience": 2}
    m = model(scarce, n=3000, seed=2)
    df = m.run(12)
    assert df["needs_queued"].iloc[3:].min() > 0 and df["mean_wait"].iloc[3:].max() > 0
    assert df["needs_unmet"].iloc[4:].sum() > 0  # given up after two steps of waiting
    assert m.channel_state.waited.max() <= 2
    # a step in the queue costs wait_hours per need (citizens who did not also try online this step)
    rec, act = m.step_record, m.step_active
    waiting = (rec["outcome"] == QUEUED) & ~rec["tried_online"]
    assert waiting.any()
    np.testing.assert_allclose(m.step_hours[act[waiting]] / rec["handled"][waiting], m.params["channels.wait_hours"])
    # the episode of a need served after waiting w steps counts w × wait_hours on top of the visit
    served = (rec["outcome"] == SERVED_OFFLINE) & ~rec["tried_online"]
    per_visit = m.step_hours[act[served]] / rec["handled"][served]
    extra = rec["episode_hours"][served] - per_visit
    assert (extra >= -1e-4).all() and extra.max() >= m.params["channels.wait_hours"] - 1e-4
    ample = model({"cadres.per_10k_citizens": 50.0}, n=3000, seed=2).run(12)
    assert ample["needs_queued"].sum() == 0 and ample["needs_unmet"].sum() == 0


def everyone_tries_online(overrides, n=1500):
    """All citizens aware, with access, choosing online; literacy 0 so most attempts fail."""
    m = model({"utility.asc_online": 20.0, "awareness.initial_share": 1.0, "citizens.access_urban": 1.0,
               "citizens.access_rural": 1.0, "citizens.access_age_factor": (1.0, 1.0, 1.0),
               "platform.coverage": 1.0, "cadres.per_10k_citizens": 200.0, **overrides}, n=n)
    m.citizens.literacy[:] = 0.0
    m.params["learning.by_use"] = 0.0
    m.params["learning.from_neighbours"] = 0.0
    m.step()
    return m.step_counts


def test_failed_online_falls_back_assisted_then_offline_then_unmet():
    c = everyone_tries_online({"assisted.enabled": True})
    assert c["online_failures"] > 0.8 * c["online_attempts"] > 0
    assert c["needs_assisted"] == c["online_failures"] and c["needs_offline"] == 0
    c = everyone_tries_online({"assisted.enabled": False})
    assert c["needs_offline"] == c["online_failures"] and c["needs_assisted"] == 0
    c = everyone_tries_online({"assisted.enabled": False, "channels.offline_open": False})
    assert c["needs_unmet"] == c["online_failures"] and c["needs_offline"] == 0


def test_outage_fails_online_and_blocks_assisted(fixed_quality):
    fixed_quality(reliability=0.0, coverage=1.0)
    c = everyone_tries_online({"assisted.enabled": True})
    assert c["needs_online"] == 0 and c["needs_assisted"] == 0
    assert c["needs_offline"] == c["online_failures"] == c["online_attempts"]


def test_digital_only_keeps_windows_for_services_not_online(fixed_quality):
    fixed_quality(coverage=0.0)
    m = model({"channels.offline_open": False, "awareness.initial_share": 1.0}, n=1500)
    df = m.run(3)
    assert df["needs_unmet"].sum() == 0 and df["needs_online"].sum() == 0
    assert df["needs_offline"].sum() + df["needs_queued"].iloc[-1] == df["needs"].sum()


def test_rural_citizens_pay_travel_time_offline(fixed_quality):
    q = fixed_quality()
    df = model({"utility.asc_online": -20.0, "cadres.per_10k_citizens": 50.0}, n=3000).run(6)
    gap = (df["time_per_need_rural"] - df["time_per_need_urban"]).iloc[1:]
    # every need is offline and served at once: rural citizens pay rural_travel_hours per visit more
    sc = govsim.load_scenario("baseline")
    visits = 1.0 + sc["channels.extra_visits"] * (1.0 - q["integration"])
    np.testing.assert_allclose(gap, visits * sc["channels.rural_travel_hours"], rtol=1e-5)


def test_integration_cuts_visits_per_need(fixed_quality):
    fixed_quality(integration=0.0)
    lo = model({"utility.asc_online": -20.0}).run(3)
    fixed_quality(integration=1.0)
    hi = model({"utility.asc_online": -20.0}).run(3)
    sc = govsim.load_scenario("baseline")
    assert lo["visits_per_need"].iloc[1:].to_numpy() == pytest.approx(1.0 + sc["channels.extra_visits"])
    assert hi["visits_per_need"].iloc[1:].to_numpy() == pytest.approx(1.0)


def test_needs_are_poisson_by_age_group():
    m = model({"citizens.need_rate": (0.2, 1.0, 3.0)}, n=60_000)
    needs = channels.draw_needs(m, np.random.default_rng(0))
    for g, lam in enumerate((0.2, 1.0, 3.0)):
        x = needs[m.citizens.age_group == g]
        assert abs(x.mean() - lam) < 0.03 * lam + 0.01 and abs(x.var() - lam) < 0.06 * lam + 0.01
    x = needs[m.citizens.age_group == 2]
    # P(k = 0) and P(k = 5) match the Poisson(3) law
    assert abs((x == 0).mean() - np.exp(-3)) < 0.01 and abs((x == 5).mean() - 0.1008) < 0.01


@pytest.mark.parametrize("kind", ["homophily", "barabasi_albert", "complete"])
def test_neighbour_shares_match_separate_products(kind):
    m = model({"network.kind": kind}, n=3000)
    m.run(3)
    for aware_first in (True, False):
        m.time_step += 1  # a fresh step: no cached value
        if aware_first:  # as govsim.awareness would call it, before the choice
            np.testing.assert_array_equal(channels.neighbour_aware_share(m), m.network.neighbour_share(m.citizens.aware))
        si, fc = channels.neighbour_shares(m)
        np.testing.assert_allclose(si, m.network.neighbour_share(m.citizens.adopted), atol=1e-6)
        np.testing.assert_allclose(fc, m.network.neighbour_share(m.citizens.literacy), atol=2e-6)
        np.testing.assert_array_equal(channels.neighbour_aware_share(m), m.network.neighbour_share(m.citizens.aware))


def _draw_needs_reference(lam, u):
    """The vectorised inverse-transform Poisson draw the compiled kernel replaces."""
    n = lam.size
    p0 = np.exp(-lam, dtype=np.float32)
    idx = np.flatnonzero(u >= p0)
    k = np.zeros(n, dtype=np.int32)
    k[idx] = 1
    l1 = lam[idx]
    two = (l1 + np.float32(1.0)) * p0[idx] <= u[idx]
    idx = idx[two]
    k[idx] = 2
    uu = u[idx].astype(np.float64)
    ll = l1[two].astype(np.float64)
    pp = np.exp(-ll) * ll
    cdf = np.exp(-ll) + pp
    j = 1
    while idx.size and j < 10_000:
        j += 1
        pp *= ll / j
        cdf += pp
        keep = uu >= cdf
        idx, uu, ll, pp, cdf = idx[keep], uu[keep], ll[keep], pp[keep], cdf[keep]
        k[idx] = j + 1
    return k


def test_needs_kernel_matches_vectorised_draw_and_lists_the_active():
    rng = np.random.default_rng(5)
    n = 20_000
    lam = rng.choice(np.array([0.05, 0.35, 2.5, 12.0], dtype=np.float32), n)
    u = rng.random(n, dtype=np.float32)
    pending = (rng.random(n) < 0.1).astype(np.int32)
    k = np.empty(n, dtype=np.int32)
    idx = np.empty(n, dtype=np.intp)
    for with_queue in (False, True):
        c = channels._needs_kernel(u, lam, np.exp(-lam, dtype=np.float32), np.exp(-lam.astype(np.float64)),
                                   pending, with_queue, k, idx)
        np.testing.assert_array_equal(k, _draw_needs_reference(lam, u))
        want = np.flatnonzero((k > 0) | ((pending > 0) & with_queue))
        np.testing.assert_array_equal(idx[:c], want)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 1000, 8191, 8192, 8193, 30_001])
def test_compiled_sums_follow_numpy_order(n):
    rng = np.random.default_rng(n)
    a = rng.random(n) * 10.0 ** rng.uniform(-4, 4, n)
    assert channels._pairwise_sum(a, 0, n) == a.sum()
    b = a.astype(np.float32)
    assert channels._sum_as_float64(b, np.getbufsize()) == b.sum(dtype=np.float64)


def test_ration_boundary_matches_slow_reference():
    """Longest wait first, random order (keys drawn for the boundary class in index order), case in hand finished."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        m = int(rng.integers(1, 40))
        region = rng.integers(0, 3, m)
        cost = rng.choice([0.0, 0.25, 0.5, 1.0], m)
        waited = rng.integers(0, 3, m)
        capacity = rng.choice([0.0, 0.5, 2.0, 5.0], 3)
        served = ration(region, cost, waited, capacity, np.random.default_rng(9))
        # reference: same keys, drawn for the boundary classes in ascending index order
        keys = np.random.default_rng(9)
        want = np.ones(m, dtype=bool)
        demand = np.bincount(region, weights=cost, minlength=3)
        if (demand > capacity).any():
            used_before = {}
            for r in range(3):
                acc = 0.0
                for w in sorted(set(waited[region == r]), reverse=True):
                    members = [i for i in range(m) if region[i] == r and waited[i] == w]
                    total = sum(cost[i] for i in members)
                    used_before[r, w] = acc
                    acc += total
            boundary = [i for i in range(m)
                        if used_before[region[i], waited[i]] < capacity[region[i]]
                        < used_before[region[i], waited[i]] + sum(cost[j] for j in range(m) if
                                                                  region[j] == region[i] and waited[j] == waited[i])]
            kv = dict(zip(boundary, keys.random(len(boundary)), strict=True))
            for r in range(3):
                used = 0.0
                ws = sorted(set(waited[region == r]), reverse=True)
                for w in ws:
                    members = [i for i in range(m) if region[i] == r and waited[i] == w]
                    if members and members[0] in kv:
                        members.sort(key=lambda i: kv[i])
                    for i in members:
                        want[i] = used < capacity[r] or cost[i] <= 0
                        used += cost[i]
        np.testing.assert_array_equal(served, want)


def test_packed_neighbour_sums_equal_their_numpy_formulation(monkeypatch):
    """The fused pack / neighbour-sum / unpack kernels give, bit for bit, the shares of the numpy formulation
    (x = L·2^20 + adopted·2^s + aware·2^a; A @ x truncated; low bits × 2^-20 / degree in float32), on one thread
    and on two row halves."""
    from govsim import networks
    from govsim.channels import _neighbour_sums

    model = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 3000}), rng=5)
    model.run(4)
    pop, net, st = model.citizens, model.network, model.channel_state
    x = pop.literacy.astype(np.float64) * 2.0 ** 20 + pop.adopted * 2.0 ** st.pack_shift \
        + pop.aware * 2.0 ** st.aware_shift
    packed = (net.to_scipy() @ x).astype(np.int64)
    lit = np.multiply(packed & ((1 << st.pack_shift) - 1), st.inv_degree_lit, dtype=np.float32)
    aware = net.neighbour_share(pop.aware)
    for threads in (False, True):
        if threads:
            monkeypatch.setattr(networks, "PARALLEL_MIN_NNZ", 1)
            monkeypatch.setattr(networks, "_n_threads", lambda: 2)
        st.shares_step = -1
        _neighbour_sums(model, aware=True)
        np.testing.assert_array_equal(st.packed, packed)
        np.testing.assert_array_equal(st.neighbour_literacy, lit)
        np.testing.assert_array_equal(st.aware_share, aware)


def test_kept_key_table_follows_quality_and_parameter_changes():
    m = model(n=300)
    cache = {}
    q = {k: np.full(m.n_regions, v) for k, v in QUALITY.items()}
    for change in (None, ("coverage", 0.4), ("security", 0.2), "param", None):
        if isinstance(change, tuple):
            q[change[0]] = q[change[0]].copy()
            q[change[0]][0] = change[1]
        elif change == "param":
            m.params["channels.rural_travel_hours"] = 3.0
        kept = channels._key_table(m, q, cache)
        np.testing.assert_array_equal(kept, channels._key_table(m, q))


def test_choice_is_the_same_whether_si_is_decoded_for_all_or_in_the_first_pass(monkeypatch):
    a = model(seed=3, n=1500)
    b = model(seed=3, n=1500)
    assert a.rule.uses_choice_model and a.channel_state.pack_shift is not None
    orig = channels._neighbour_sums

    def decode_all(m, aware=False):  # b: SI decoded for everybody, as neighbour_shares does
        orig(m, aware)
        st = m.channel_state
        if m is b and st.social_share is None:
            st.social_share = np.multiply(channels._adopters(st), st.inv_degree, dtype=np.float32)

    monkeypatch.setattr(channels, "_neighbour_sums", decode_all)
    for _ in range(6):
        a.step()
        b.step()
        assert b.channel_state.social_share is not None and a.channel_state.social_share is None
        np.testing.assert_array_equal(a.step_outcome, b.step_outcome)
        np.testing.assert_array_equal(a.citizens.adopted, b.citizens.adopted)
