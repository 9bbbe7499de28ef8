"""Pluggable adoption rules.

A rule decides who uses the online channel. ``adoption.rule`` picks one:

``utility`` (default)
    The UTAUT-style multinomial logit of MODEL.md step 5: every citizen with a
    need chooses a channel by the utilities of :mod:`govsim.channels`; a citizen
    has *adopted* while the channel they chose at their latest need is online.
``bass``
    P(adopt this step) = p + q × (share of adopted neighbours), in
    ``adoption.substeps`` synchronous sub-steps of length 1/k with p/k and q/k
    (Euler steps of the Bass equation dF/dt = (p + qF)(1 − F)). With k = 1 this
    is the classic discrete Bass model; its mean curve on a complete network
    follows F_{t+1} = F_t + (p + qF_t)(1 − F_t), which lags the continuous
    closed form F(t) = (1 − e^{−(p+q)t}) / (1 + (q/p) e^{−(p+q)t}) (RMSE 0.028
    over 30 steps at p=0.03, q=0.38). The Euler error falls as 1/k: k = 8 gives
    RMSE 0.0035. Adoption is permanent.
``threshold``
    Granovetter (1978) / Watts (2002): a citizen adopts once the share of its
    adopted neighbours reaches (>=) its own threshold; the share is 0 for a
    citizen with no neighbours. All citizens update synchronously from the
    previous step's state; adoption is permanent.

Under ``bass`` and ``threshold`` adopters use the online channel for their
needs (when they have internet access) and the others choose among the
offline channels.

How ``bass`` and ``threshold`` are computed: one compiled call per
(sub-)step (:func:`govsim.compiled.jit`). The rule keeps each citizen's
number of adopted neighbours and, at the start of the call, brings it up to
date on the CSR arrays of the network from the citizens whose adoption
changed since the last call (by the rule, by lapses or by anything else); on
the complete network the count is all adopters minus oneself. A citizen's
share is that count over its degree (0 without neighbours); the counts are
not touched while citizens adopt, so the update is synchronous. ``bass``
draws one uniform per non-adopter per sub-step (stream ``dynamics``,
``rng.random(k)`` for the k citizens not adopted at the start of the
sub-step, handed out in citizen order; adopters draw nothing) and adopts when
it is below ``min(1, p/k + q/k × share)``; ``threshold`` draws nothing. The results
equal those of ``network.neighbour_share(adopted)`` and the formulas above,
bit for bit.

Writing your own rule
---------------------
Subclass :class:`AdoptionRule` and register it; its parameters are declared
with :class:`govsim.config.Param` under ``adoption.<name>.*``::

    import govsim
    from govsim.adoption import AdoptionRule, register_rule
    from govsim.config import Param

    class Imitation(AdoptionRule):
        '''Adopt with probability `rate` when any neighbour has adopted.'''
        name = "imitation"

        def update(self, model, rng):
            pop = model.citizens
            seen = model.network.neighbour_sum(pop.adopted) > 0
            pop.adopted |= seen & (rng.random(pop.n) < model.params["adoption.imitation.rate"])

    register_rule(Imitation, params=[
        Param("adoption.imitation.rate", float, 0.2, "adoption probability when exposed",
              unit="probability", low=0.0, high=1.0)])

    model = govsim.GovModel(govsim.load_scenario("baseline", {"adoption.rule": "imitation"}), rng=1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from .compiled import count_true, jit
from .config import Param, ScenarioError, _REGISTRY, declare, declare_check

__all__ = ["AdoptionRule", "register_rule", "get_rule", "available_rules",
           "UtilityRule", "BassRule", "ThresholdRule"]

_RULES: dict[str, type[AdoptionRule]] = {}


class AdoptionRule:
    """Base class of adoption rules.

    A rule is built once per model (``__init__(model, rng)``, after the
    citizens and the network exist) and its :meth:`update` is called once per
    step, after awareness spreads and before needs are served.

    Attributes
    ----------
    name : str
        The value of ``adoption.rule`` that selects this rule.
    uses_choice_model : bool
        True if adoption is decided by the channel-choice logit at each need
        (the ``utility`` rule); False if the rule's own state decides it.
    """

    name: ClassVar[str] = ""
    uses_choice_model: ClassVar[bool] = False

    def __init__(self, model, rng: np.random.Generator):
        self.model = model

    def update(self, model, rng: np.random.Generator) -> None:
        """Advance the adoption state one step (in place on ``model.citizens.adopted``)."""


def register_rule(rule: type[AdoptionRule], params: Iterable[Param] = ()) -> type[AdoptionRule]:
    """Register an adoption rule so that ``adoption.rule = rule.name`` selects it.

    Parameters
    ----------
    rule : subclass of AdoptionRule
        Must define a non-empty ``name``.
    params : iterable of Param
        The rule's own parameters (keys under ``adoption.``).

    Returns
    -------
    The rule class (so this can be used as a decorator helper).
    """
    if not (isinstance(rule, type) and issubclass(rule, AdoptionRule)) or not rule.name:
        raise TypeError("register_rule needs an AdoptionRule subclass with a non-empty name")
    _RULES[rule.name] = rule
    declare(*params)
    # the choices of adoption.rule grow with the registry
    old = _REGISTRY["adoption.rule"]
    _REGISTRY["adoption.rule"] = Param(
        old.key, old.type, old.default, old.doc, old.unit, choices=tuple(_RULES), source=old.source
    )
    return rule


def get_rule(name: str) -> type[AdoptionRule]:
    """The rule class registered under ``name``."""
    try:
        return _RULES[name]
    except KeyError:
        raise ScenarioError(f"unknown rule {name!r}; allowed: {', '.join(_RULES)}", key="adoption.rule") from None


def available_rules() -> list[str]:
    """Names of the registered rules."""
    return list(_RULES)


declare(
    Param("adoption.rule", str, "utility", "adoption rule", choices=("utility", "bass", "threshold"),
          source="MODEL.md, pluggable adoption rules"),
    Param("adoption.initial_adopters", int, 0, "number of citizens who have adopted at step 0, chosen at random (0: use adoption.initial_share)",
          unit="citizens", low=0, high=100_000_000, source="set per experiment"),
    Param("adoption.initial_share", float, 0.0,
          "share of citizens who have adopted at step 0 (ignored when adoption.initial_adopters > 0)",
          unit="share", low=0.0, high=1.0, source="set per experiment"),
)


@declare_check
def _check_initial(values):
    if values["adoption.initial_adopters"] > values["citizens.n"]:
        raise ScenarioError(f"must be <= citizens.n ({values['citizens.n']}), got "
                            f"{values['adoption.initial_adopters']}", key="adoption.initial_adopters")


def seed_initial_adopters(model, rng: np.random.Generator) -> None:
    """Mark the initial adopters (a random set of the asked size)."""
    pop = model.citizens
    k = int(model.params["adoption.initial_adopters"]) or int(round(model.params["adoption.initial_share"] * pop.n))
    if k:
        pop.adopted[rng.choice(pop.n, size=k, replace=False)] = True


class UtilityRule(AdoptionRule):
    """UTAUT-style logit channel choice (see :mod:`govsim.channels`)."""

    name = "utility"
    uses_choice_model = True


class BassRule(AdoptionRule):
    """Bass (1969) diffusion on the network, in ``adoption.substeps`` sub-steps."""

    name = "bass"

    def update(self, model, rng):
        pop = model.citizens
        params = model.params
        k = int(params["adoption.substeps"])
        p = params["adoption.p"] / k
        q = params["adoption.q"] / k
        net = model.network
        buf = _uniforms(self, pop.n)
        for _ in range(k):
            free = pop.n - count_true(pop.adopted)
            if free == 0:
                break
            u = buf[:free]
            rng.random(out=u)  # the same draws as rng.random(free), into a reused buffer
            if net.indptr is None:
                _bass_complete(pop.adopted, u, p, q)
            else:
                seen, counts, degree = _neighbour_counts(self, net)
                _bass_csr(net.indptr, net.indices, pop.adopted, seen, counts, degree, u, p, q)


class ThresholdRule(AdoptionRule):
    """Granovetter/Watts threshold cascade with thresholds drawn once per citizen."""

    name = "threshold"

    def __init__(self, model, rng):
        super().__init__(model, rng)
        self.thresholds = draw_thresholds(model.params, model.citizens.n, rng)

    def update(self, model, rng):
        pop = model.citizens
        net = model.network  # previous step's state, all at once
        if net.indptr is None:
            _threshold_complete(pop.adopted, self.thresholds)
        else:
            seen, counts, degree = _neighbour_counts(self, net)
            _threshold_csr(net.indptr, net.indices, pop.adopted, seen, counts, degree, self.thresholds)


def _uniforms(rule, n: int) -> np.ndarray:
    """A reused float64 buffer of length ``n`` for the rule's uniforms."""
    u = rule.__dict__.get("_uniforms")
    if u is None or u.size != n:
        u = rule.__dict__["_uniforms"] = np.empty(n)
    return u


def _neighbour_counts(rule, net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rule's running count of adopted neighbours (int32), kept for the network ``net``.

    Returns ``(seen, counts, degree)``: ``seen`` (uint8) is the adoption
    state the counts are of (all 0 at first); the kernels bring the counts up
    to date with ``citizens.adopted`` by visiting the neighbours of the
    citizens whose state changed since (whoever changed it: the rule, lapses,
    events), so a step costs a pass over the citizens plus the neighbour lists
    of the changed ones. ``degree`` is the degree as float64, 1 for the
    isolated (whose count is 0), the divisor of ``network.neighbour_share``.
    """
    state = rule.__dict__.get("_counts")
    if state is None or state[0] is not net:
        n = net.n
        degree = np.maximum(net.degree, 1).astype(np.float64)
        state = rule.__dict__["_counts"] = (net, np.zeros(n, dtype=np.uint8), np.zeros(n, dtype=np.int32), degree)
    return state[1], state[2], state[3]


_BLOCK = 256  #: citizens compared at once when looking for changed adoption states


@jit
def _sync_counts(indptr, indices, adopted, seen, counts):  # pragma: no cover - compiled
    """Update counts[j] (adopted neighbours of j) for every citizen i whose adopted differs from seen[i]."""
    a8 = adopted.view(np.uint8)
    n = a8.size
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        diff = 0
        for i in range(lo, hi):  # vectorised: is any state in this block changed?
            diff |= a8[i] ^ seen[i]
        if diff == 0:
            continue
        for i in range(lo, hi):
            if a8[i] != seen[i]:
                d = np.int32(1) if a8[i] else np.int32(-1)
                seen[i] = a8[i]
                for j in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):  # unsigned: no negative-index checks
                    counts[np.uint64(indices[j])] += d


@jit
def _bass_csr(indptr, indices, adopted, seen, counts, degree, u, p, q):  # pragma: no cover - compiled
    """One synchronous Bass sub-step on a CSR network: a non-adopter i adopts if u[t] < min(1, p + q * share_i).

    ``u`` holds one uniform per non-adopter, the t-th for the t-th non-adopter in citizen order.

    The shares are those of the state at the call (the counts are brought up
    to date first and not touched while adopting), so the update is synchronous.
    """
    _sync_counts(indptr, indices, adopted, seen, counts)
    a8 = adopted.view(np.uint8)
    t = 0
    for i in range(a8.size):  # u[t]: the t-th non-adopter's uniform
        prob = p + q * (counts[i] / degree[i])
        prob = 1.0 if prob > 1.0 else prob
        free = 1 - a8[i]
        ui = u[t] if t < u.size else 1.0
        a8[i] = a8[i] | np.uint8(free & (ui < prob))
        t += free


@jit
def _bass_complete(adopted, u, p, q):  # pragma: no cover - compiled
    """One synchronous Bass sub-step on the complete network (share = adopters other than self / (n - 1)).

    ``u`` holds one uniform per non-adopter, in citizen order, as in :func:`_bass_csr`.
    """
    n = adopted.size
    total = 0
    for i in range(n):
        total += adopted[i]
    share = total / (n - 1) if n > 1 else 0.0  # the same for every non-adopter
    prob = p + q * share
    if prob > 1.0:
        prob = 1.0
    t = 0
    for i in range(n):  # u[t]: the t-th non-adopter's uniform
        if not adopted[i]:
            if u[t] < prob:
                adopted[i] = True
            t += 1


@jit
def _threshold_csr(indptr, indices, adopted, seen, counts, degree, thresholds):  # pragma: no cover - compiled
    """One synchronous threshold step on a CSR network: adopted[i] |= share_i >= thresholds[i]."""
    _sync_counts(indptr, indices, adopted, seen, counts)
    for i in range(adopted.size):
        adopted[i] = adopted[i] | (counts[i] / degree[i] >= thresholds[i])


@jit
def _threshold_complete(adopted, thresholds):  # pragma: no cover - compiled
    """One synchronous threshold step on the complete network."""
    n = adopted.size
    total = 0
    for i in range(n):
        total += adopted[i]
    share = total / (n - 1) if n > 1 else 0.0
    for i in range(n):
        if not adopted[i] and share >= thresholds[i]:
            adopted[i] = True


def draw_thresholds(params, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw each citizen's adoption threshold from ``adoption.threshold.distribution``.

    Examples
    --------
    >>> import numpy as np
    >>> draw_thresholds({"adoption.threshold.distribution": "fixed",
    ...                  "adoption.threshold.value": 0.3}, 3, np.random.default_rng(0))
    array([0.3, 0.3, 0.3])
    """
    dist = params["adoption.threshold.distribution"]
    if dist == "fixed":
        return np.full(n, float(params["adoption.threshold.value"]))
    if dist == "uniform":
        return rng.uniform(params["adoption.threshold.low"], params["adoption.threshold.high"], size=n)
    if dist == "normal":
        return np.clip(rng.normal(params["adoption.threshold.mean"], params["adoption.threshold.sd"], size=n), 0.0, 1.0)
    if dist == "beta":
        return rng.beta(params["adoption.threshold.a"], params["adoption.threshold.b"], size=n)
    raise ScenarioError(f"unknown distribution {dist!r}", key="adoption.threshold.distribution")


register_rule(UtilityRule)
register_rule(BassRule, params=[
    Param("adoption.p", float, 0.03, "Bass coefficient of innovation (external influence) per step",
          unit="1/step", low=0.0, high=1.0, source="Bass (1969); 0.03 is the classic average (Sultan et al. 1990)"),
    Param("adoption.q", float, 0.38, "Bass coefficient of imitation (influence of adopted neighbours) per step",
          unit="1/step", low=0.0, high=1.0, source="Bass (1969); 0.38 is the classic average (Sultan et al. 1990)"),
    Param("adoption.substeps", int, 1,
          "Euler sub-steps per step for the bass rule (1 = classic discrete Bass; 8 tracks the continuous closed form to RMSE 0.004)",
          unit="sub-steps", low=1, high=100, source="numerical: Euler error of the Bass equation falls as 1/substeps"),
])
register_rule(ThresholdRule, params=[
    Param("adoption.threshold.distribution", str, "uniform", "distribution of citizens' adoption thresholds",
          choices=("fixed", "uniform", "normal", "beta"), source="Granovetter (1978); Watts (2002)"),
    Param("adoption.threshold.value", float, 0.18, "threshold of every citizen (distribution = fixed)",
          unit="share", low=0.0, high=1.0, source="Watts (2002) uses 0.18 in his cascade-window figures"),
    Param("adoption.threshold.low", float, 0.0, "lower bound (distribution = uniform)", unit="share",
          low=0.0, high=1.0, source="Granovetter (1978) uniform example"),
    Param("adoption.threshold.high", float, 1.0, "upper bound (distribution = uniform)", unit="share",
          low=0.0, high=1.0, source="Granovetter (1978) uniform example"),
    Param("adoption.threshold.mean", float, 0.25, "mean (distribution = normal, clipped to [0, 1])",
          unit="share", low=0.0, high=1.0, source="Granovetter (1978) normal example"),
    Param("adoption.threshold.sd", float, 0.1, "standard deviation (distribution = normal)", unit="share",
          low=0.0, high=1.0, source="Granovetter (1978) normal example"),
    Param("adoption.threshold.a", float, 2.0, "Beta parameter a (distribution = beta)", unit="-",
          low=0.01, high=100.0, source="assumption"),
    Param("adoption.threshold.b", float, 5.0, "Beta parameter b (distribution = beta)", unit="-",
          low=0.01, high=100.0, source="assumption"),
])


@declare_check
def _check_threshold(values):
    if values["adoption.threshold.low"] > values["adoption.threshold.high"]:
        raise ScenarioError("must be <= adoption.threshold.high", key="adoption.threshold.low")
