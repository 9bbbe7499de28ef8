"""Digital-literacy training: a budgeted programme for a target group (MODEL.md step 7).

Local programmes teach citizens to use online government services -- community
classes for the elderly, village "digital literacy" courses, the 2021 national
action plan for improving digital literacy and skills. The programme offers
``training.budget`` seats per 10,000 citizens per step, allotted to each region
in proportion to its residents, plus the seats its local government buys
with the training share of its budget (``model.training_seats[r]``, seats per
10,000 residents per step, written by :mod:`govsim.governments` when the
governance mechanics run). Eligible are the citizens of the target group
(``training.target``: ``all``, ``elderly``, ``rural`` or ``elderly_rural``)
whose literacy is below ``training.max_literacy`` (the programme is for those
who need it; nobody is eligible once they are past it).

Each step, in region r with S_r seats and E_r eligible citizens, every eligible
citizen is trained with probability ``min(1, S_r / E_r)`` (one uniform per
eligible citizen, stream ``dynamics``; the expected number trained is
``min(S_r, E_r)``, so the budget binds where demand exceeds it). Training closes
``training.gain`` of the gap to full literacy, ``L ← L + gain × (1 − L)``, so L
stays in [0, 1], and (``training.makes_aware``) tells the citizen about the
online services. A trained citizen without internet access starts using the
internet with probability ``training.access_prob`` (the course sets up the
citizen's or the family's phone); the others may get online later, as their
literacy now qualifies them (:mod:`govsim.learning`, "getting online").
Citizens trained at least once are marked in ``Population.trained``.

Random draws (stream ``dynamics``): one uniform per eligible citizen, then one
per trained citizen without access.

Called by :func:`govsim.learning.update_learning`, after learning by use and
before learning from neighbours (so the trained teach their neighbours from the
next step on).
"""

from __future__ import annotations

import numpy as np

from .compiled import jit
from .config import Param, declare

TARGETS = ("all", "elderly", "rural", "elderly_rural")

declare(
    Param("training.budget", float, 0.0, "training seats per 10,000 citizens per step (0 = no programme)",
          unit="seats/10k citizens/step", low=0.0, high=10_000.0, source="set per scenario"),
    Param("training.target", str, "elderly", "group the training programme is for", choices=TARGETS,
          source="seeds 000, 004: the elderly and rural citizens are the ones left behind"),
    Param("training.gain", float, 0.3, "share of the gap to full literacy one training closes", unit="share",
          low=0.0, high=1.0,
          source="assumption: a short course takes a beginner a good part of the way to using one service"),
    Param("training.max_literacy", float, 0.5, "citizens with literacy at or above this are not eligible",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption: courses for beginners"),
    Param("training.makes_aware", bool, True, "a trained citizen becomes aware of the online services",
          source="assumption: the course shows the services"),
    Param("training.access_prob", float, 0.5,
          "probability that a trained citizen without internet access starts using the internet",
          unit="probability", low=0.0, high=1.0,
          source="assumption: smartphone courses for the elderly set up the participant's or the family's phone; "
                 "only 17.5 % of non-users cite a missing device (CNNIC 2021, govsim/data/cnnic_nonuser_reasons.csv)"),
)


def eligible(model) -> np.ndarray:
    """Boolean mask of the citizens eligible for training this step."""
    p = model.params
    pop = model.citizens
    mask = pop.literacy < p["training.max_literacy"]
    target = p["training.target"]
    if target in ("elderly", "elderly_rural"):
        mask &= pop.age_group == 2
    if target in ("rural", "elderly_rural"):
        mask &= ~pop.urban
    return mask


def _target_group(model) -> np.ndarray | None:
    """Indices (ascending) of the static target group (age group and place never change); None for ``all``."""
    target = model.params["training.target"]
    if target == "all":
        return None
    cache = model.__dict__.setdefault("_training_groups", {})
    group = cache.get(target)
    if group is None:
        pop = model.citizens
        mask = np.ones(pop.n, dtype=bool)
        if target in ("elderly", "elderly_rural"):
            mask &= pop.age_group == 2
        if target in ("rural", "elderly_rural"):
            mask &= ~pop.urban
        group = cache[target] = np.flatnonzero(mask)
    return group


def _eligible_index(model) -> np.ndarray:
    """Indices (ascending) of :func:`eligible` citizens: literacy is tested within the static target group only."""
    p = model.params
    pop = model.citizens
    group = _target_group(model)
    if group is None:
        return np.flatnonzero(pop.literacy < p["training.max_literacy"])
    return group[pop.literacy[group] < p["training.max_literacy"]]


def _buffers(model, n: int, n_regions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work buffers kept on the model: eligible, trained without access (intp, length ``n``), eligible by region."""
    buf = model.__dict__.get("_training_buf")
    if buf is None or buf[0].size != n or buf[2].size != n_regions:
        buf = model.__dict__["_training_buf"] = (np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp),
                                                 np.zeros(n_regions, dtype=np.int64))
    return buf


def _seats_per_10k(model) -> tuple[float, np.ndarray]:
    """``training.budget`` and the seats bought per region (``model.training_seats``; empty if none)."""
    bought = getattr(model, "training_seats", None)
    if bought is None:
        return float(model.params["training.budget"]), _NONE_BOUGHT
    bought = np.asarray(bought, dtype=float)
    if bought.shape != (model.n_regions,):  # one value for all regions, as numpy would broadcast it
        bought = np.ascontiguousarray(np.broadcast_to(bought, (model.n_regions,)))
    return float(model.params["training.budget"]), bought


def runs(model) -> bool:
    """Whether the programme runs this step: seats in some region (budget + bought > 0) and a positive gain."""
    if model.params["training.gain"] <= 0:
        return False
    budget, bought = _seats_per_10k(model)
    if bought.size == 0:
        return budget > 0
    return any(budget + b > 0 for b in bought.tolist())


def apply_training(model, rng: np.random.Generator) -> np.ndarray:
    """Train this step's citizens; return their indices (also counted in ``model.step_trained``).

    How it is computed: compiled passes (:func:`govsim.compiled.jit`) list the
    eligible citizens (ascending) and count them by region; with the uniforms
    drawn by numpy, a second pass computes each region's probability
    ``min(1, S_r / max(E_r, 1))`` (``S_r`` = residents × seats per 10,000 /
    10,000), trains the chosen and lists those without access; a last pass
    gives access with the second draws.
    """
    if not runs(model):
        model.step_trained = 0
        return np.zeros(0, dtype=np.intp)
    return _train_step(model, rng)


def _train_step(model, rng: np.random.Generator) -> np.ndarray:
    """:func:`apply_training` once :func:`runs` said the programme runs this step."""
    p = model.params
    pop = model.citizens
    budget, bought = _seats_per_10k(model)
    group = _target_group(model)
    elig, offline, n_elig = _buffers(model, pop.n, model.n_regions)
    k = _eligible(group if group is not None else _ALL, group is None, pop.literacy, pop.region,
                  p["training.max_literacy"], elig, n_elig)
    u = rng.random(k)
    n_chosen, n_offline = _train(u, elig, n_elig, model.channel_state.residents, budget, bought, pop.region,
                                 pop.literacy, p["training.gain"], bool(p["training.makes_aware"]), pop.aware,
                                 pop.trained, pop.access, offline)
    chosen = elig[:n_chosen].copy()
    u = rng.random(n_offline)
    _give_access(u, offline, p["training.access_prob"], pop.access)
    model.step_trained = int(n_chosen)
    return chosen


_ALL = np.zeros(0, dtype=np.intp)
_NONE_BOUGHT = np.zeros(0)


@jit
def _eligible(group, everyone, lit, region, max_literacy, elig, n_elig):  # pragma: no cover - compiled
    """List the eligible (literacy < max_literacy, float32 comparison) of ``group`` or of everyone; count by region."""
    thr = np.float32(max_literacy)
    n_elig[:] = 0
    k = 0
    if everyone:
        for i in range(lit.size):
            if lit[i] < thr:
                elig[k] = i
                n_elig[region[i]] += 1
                k += 1
    else:
        for t in range(group.size):
            i = group[t]
            if lit[i] < thr:
                elig[k] = i
                n_elig[region[i]] += 1
                k += 1
    return k


@jit
def _train(u, elig, n_elig, residents, budget, bought, region, lit, gain, makes_aware, aware, trained, access,
           offline):  # pragma: no cover - compiled
    """Train elig[t] when u[t] < its region's probability; the chosen overwrite the front of ``elig`` (order kept).

    Returns (trained, trained without access), the latter listed in ``offline``.
    """
    n_regions = n_elig.size
    prob = np.empty(n_regions)
    for r in range(n_regions):
        per_10k = budget + bought[r] if bought.size else budget
        seats = residents[r] * per_10k / 10_000.0
        x = seats / max(n_elig[r], 1)
        prob[r] = x if x < 1.0 else (1.0 if x == x else x)  # np.minimum(1.0, x)
    g = np.float32(gain)
    one = np.float32(1.0)
    k = 0
    m = 0
    for t in range(u.size):
        i = elig[t]
        if u[t] < prob[region[i]]:
            elig[k] = i
            k += 1
            lit[i] += g * (one - lit[i])
            if makes_aware:
                aware[i] = True
            trained[i] = True
            if not access[i]:
                offline[m] = i
                m += 1
    return k, m


@jit
def _give_access(u, offline, access_prob, access):  # pragma: no cover - compiled
    """Access for the trained without it: offline[t] when u[t] < access_prob."""
    for t in range(u.size):
        if u[t] < access_prob:
            access[offline[t]] = True
