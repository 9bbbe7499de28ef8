"""Citizens: a vectorised population, one numpy array per attribute.

govsim never creates one Python object per citizen. A :class:`Population` holds
a column per attribute (MODEL.md, "Citizens"); every process of the step reads
and writes whole columns (or index subsets of them). This is what makes 10^6
citizens and Sobol analyses with thousands of runs affordable.

Static attributes: ``region``, ``urban``, ``age_group`` (0 young, 1 working-age,
2 elderly), ``education`` (0 low, 1 middle, 2 high), ``access`` (internet
access), ``privacy`` (privacy concern in [0, 1]), ``need_rate`` (expected service
needs per step).

Dynamic attributes: ``literacy`` (digital literacy L in [0, 1]), ``aware``
(knows the online services), ``adopted`` (uses the online channel: the current
channel habit is online), ``habit`` (last channel used: 0 offline, 1 online,
2 assisted, -1 none yet), ``trust`` (trust in government T in [0, 1]),
``satisfaction`` in [0, 1], ``expectation`` (expected service performance in
[0, 1], for expectation confirmation), ``time_cost`` (cumulative hours spent on
needs, waiting included), ``needs_total`` (cumulative needs arisen), ``served``
(cumulative needs served, any channel), ``unmet`` (cumulative needs left
unmet), ``lapsed_until`` (a lapsed online user does not consider the online
channel before this step) and ``trained`` (has been through a literacy
training programme). Needs still waiting in a queue are held by
:mod:`govsim.channels`; for every citizen, at the end of every step,
``needs_total == served + unmet + waiting``.

Initial draw (stream ``population``, in this order)
---------------------------------------------------
1. region: unequal sizes, weights ``1, 2, ..., regions.n`` shuffled;
2. urban (Bernoulli ``citizens.urban_share``), age group and education
   (categorical by the configured shares);
3. internet access: Bernoulli with probability ``access_urban`` or
   ``access_rural`` times ``access_age_factor[age]`` (capped at 1);
4. literacy: ``Beta(literacy_a[age], literacy_b[age])``, times
   ``rural_literacy_factor`` for rural citizens, plus
   ``education_literacy_shift`` per education level above low, clipped to
   [0, 1], then times ``offline_literacy_factor`` for citizens without
   internet access;
5. privacy concern: ``Beta(4 m, 4 (1 − m))`` with mean ``privacy_mean``.

The citizens are then numbered in the order of their block label region ×
urban/rural × age group (a stable sort: within a block, in the order drawn),
so that the members of a block are contiguous. On the homophilous network
most of a citizen's neighbours are in the citizen's own block, so the
neighbour sums of every step read memory close together (several times
faster at 10^6 citizens than reading it scattered). The sort does not change
who is drawn, only their numbers.

How it is computed: the random numbers are drawn by numpy in the order above
(internet access as uniforms compared with the access probability); the
access test, the literacy transforms of step 4 and the renumbering (a stable
counting sort by block label, writing every attribute in its final place) are
two compiled passes (:func:`govsim.compiled.jit`).

Calibration (CNNIC, December 2021; the series are shipped in ``govsim/data``)
------------------------------------------------------------------------------
The defaults reproduce, in expectation: urban and rural internet penetration
81.3 % and 57.6 %; national penetration 73.0 % (the age factors average 1 over
the age shares); a 60+ share of the population of 19.5 % (119 M users aged
60+ at 43.2 % penetration = 275 M of 1,414 M) and a 60+ penetration of 43 %
(age factor 0.59 = 43.2 / 73.0); and the reasons non-users give: 48.4 % of
non-users lack the skills, which the model reads as literacy below 0.25 (the
literacy at which an online attempt succeeds half the time at the default
usability), hence the low literacy of citizens without access
(``offline_literacy_factor``). :func:`govsim.divide.population_calibration`
computes these moments for a population and ``tests/test_citizens.py`` checks
them against the shipped data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .compiled import jit
from .config import Param, ScenarioError, declare, declare_check

AGE_GROUPS = ("young", "working", "elderly")
EDUCATION_LEVELS = ("low", "middle", "high")
CHANNELS = ("offline", "online", "assisted")
OFFLINE, ONLINE, ASSISTED = 0, 1, 2

_CNNIC_2021 = "CNNIC 49th report, Dec 2021 (govsim/data/cnnic_urban_rural.csv, cnnic_elderly.csv)"

declare(
    Param("citizens.n", int, 10_000, "number of citizens", unit="citizens", low=1, high=100_000_000,
          source="assumption: 10^4 is enough for smooth shares; raise for final runs"),
    Param("regions.n", int, 4, "number of regions (one local government each)", unit="regions",
          low=1, high=10_000, source="assumption: a few regions of unequal capacity"),
    Param("citizens.urban_share", float, 0.65, "share of citizens living in urban areas", unit="share",
          low=0.0, high=1.0,
          source=f"derived: rural share of users 27.5 % at rural/urban penetration 57.6/81.3 % gives a rural population share of 0.35; {_CNNIC_2021}"),
    Param("citizens.age_shares", float, (0.405, 0.40, 0.195),
          "shares of citizens by age group: young (<40), working-age (40-59), elderly (60+)", unit="share",
          low=0.0, high=1.0, length=3, sum_to_one=True,
          source="elderly: derived 119 M users aged 60+ at 43.2 % penetration = 275 M of 1,414 M (19.5 %), CNNIC Dec 2021; young/working split: assumption (about equal)"),
    Param("citizens.education_shares", float, (0.45, 0.35, 0.20),
          "shares by education level: low (primary or less), middle (secondary), high (tertiary)",
          unit="share", low=0.0, high=1.0, length=3, sum_to_one=True,
          source="assumption: order of magnitude of China's 2020 census attainment"),
    Param("citizens.access_urban", float, 0.813, "probability that an urban citizen has internet access",
          unit="probability", low=0.0, high=1.0,
          source=f"urban internet penetration Dec 2021 (81.3 %, derived); {_CNNIC_2021}"),
    Param("citizens.access_rural", float, 0.576, "probability that a rural citizen has internet access",
          unit="probability", low=0.0, high=1.0, source=f"rural internet penetration Dec 2021 (57.6 %); {_CNNIC_2021}"),
    Param("citizens.access_age_factor", float, (1.15, 1.05, 0.59),
          "multiplier of the access probability by age group (capped so probabilities stay <= 1)",
          unit="-", low=0.0, high=5.0, length=3,
          source="elderly: 60+ penetration 43.2 % / national 73.0 % = 0.59 (CNNIC Dec 2021, govsim/data/cnnic_elderly.csv); "
                 "young/working: assumption young = 1.1 × working, scaled so the factors average 1 over the age shares "
                 "(national penetration stays 73.0 %, govsim/data/cnnic_penetration.csv)"),
    Param("citizens.literacy_a", float, (5.0, 3.0, 1.5),
          "Beta distribution parameter a of initial digital literacy, by age group", unit="-",
          low=0.01, high=100.0, length=3,
          source="assumption: means 0.71 / 0.50 / 0.27 ordered as CNNIC non-users' stated lack of skills (48.4 %) concentrates among the old"),
    Param("citizens.literacy_b", float, (2.0, 3.0, 4.0),
          "Beta distribution parameter b of initial digital literacy, by age group", unit="-",
          low=0.01, high=100.0, length=3, source="see citizens.literacy_a"),
    Param("citizens.rural_literacy_factor", float, 0.8,
          "multiplier of initial literacy for rural citizens", unit="-", low=0.0, high=1.0,
          source="assumption: rural penetration is 0.71 of urban (CNNIC Dec 2021); skills gap taken milder"),
    Param("citizens.offline_literacy_factor", float, 0.55,
          "multiplier of initial literacy for citizens without internet access", unit="-", low=0.0, high=1.0,
          source="calibrated: 48.4 % of non-users lack computer/internet skills (CNNIC Dec 2021, "
                 "govsim/data/cnnic_nonuser_reasons.csv); 0.55 puts 48 % of citizens without access below "
                 "literacy 0.25, where an online attempt succeeds half the time at default usability"),
    Param("citizens.education_literacy_shift", float, 0.1,
          "added to initial literacy per education level above low (then clipped to [0, 1])", unit="literacy",
          low=0.0, high=0.5, source="assumption: CNNIC non-users cite education/literacy (25.7 % in 2021)"),
    Param("citizens.need_rate", float, (0.25, 0.35, 0.45),
          "expected government-service needs per citizen per step, by age group", unit="needs/month",
          low=0.0, high=10.0, length=3,
          source="assumption: a few needs a year, more for the elderly (pensions, health insurance)"),
    Param("citizens.privacy_mean", float, 0.3, "mean privacy concern (Beta distributed, concentration 4)",
          unit="[0, 1]", low=0.01, high=0.99, source="assumption"),
    Param("citizens.initial_trust", float, 0.6, "initial trust in government for every citizen",
          unit="[0, 1]", low=0.0, high=1.0, source="assumption: moderate-high, as surveys of trust in China report"),
)


@declare_check
def _check_citizens(values):
    if values["regions.n"] > values["citizens.n"]:
        raise ScenarioError(
            f"must be <= citizens.n ({values['citizens.n']}), got {values['regions.n']}", key="regions.n"
        )


@dataclass
class Population:
    """The citizens, one numpy array per attribute (length ``n`` each).

    Create one with :func:`create_population`. Arrays use the narrowest dtype
    that holds their values exactly (``int8`` groups, ``float32`` levels).

    Examples
    --------
    >>> import numpy as np, govsim
    >>> sc = govsim.load_scenario("baseline", {"citizens.n": 1000})
    >>> pop = create_population(sc, np.random.default_rng(0))
    >>> pop.n, pop.literacy.dtype.name
    (1000, 'float32')
    >>> bool(((pop.literacy >= 0) & (pop.literacy <= 1)).all())
    True
    """

    n: int
    region: np.ndarray
    urban: np.ndarray
    age_group: np.ndarray
    education: np.ndarray
    access: np.ndarray
    privacy: np.ndarray
    need_rate: np.ndarray
    literacy: np.ndarray
    aware: np.ndarray
    adopted: np.ndarray
    habit: np.ndarray
    trust: np.ndarray
    satisfaction: np.ndarray
    time_cost: np.ndarray
    needs_total: np.ndarray
    unmet: np.ndarray
    expectation: np.ndarray
    served: np.ndarray
    lapsed_until: np.ndarray
    trained: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory held by the attribute arrays, in bytes."""
        return sum(getattr(self, f.name).nbytes for f in fields(self) if f.name != "n")

    def block_labels(self, n_regions: int) -> np.ndarray:
        """Group label region × urban/rural × age group (for the homophily network)."""
        return (self.region.astype(np.int64) * 2 + self.urban) * len(AGE_GROUPS) + self.age_group


def _choice_by_shares(rng: np.random.Generator, shares, n: int) -> np.ndarray:
    return rng.choice(len(shares), size=n, p=np.asarray(shares) / np.sum(shares)).astype(np.int8)


@jit
def _access(urban, age, u, access_urban, access_rural, age_factor, access):
    """Internet access: ``u < min(access_urban or access_rural, times age_factor[age], 1)``."""
    for i in range(urban.size):
        p = (access_urban if urban[i] else access_rural) * age_factor[age[i]]
        access[i] = u[i] < min(p, 1.0)


@jit
def _finish(region, urban, age, edu, access, lit, privacy, need_rate_by_age,
            rural_factor, edu_shift, offline_factor, n_labels,
            o_region, o_urban, o_age, o_edu, o_access, o_privacy, o_need, o_lit):
    """Literacy transforms, and every attribute written in block-label order (stable counting sort).

    Literacy: times ``rural_factor`` if rural, plus ``edu_shift`` per
    education level, clipped to [0, 1], times ``offline_factor`` without
    access (float64, then float32). Label: ``(region * 2 + urban) * 3 + age``.
    """
    n = region.size
    start = np.zeros(n_labels + 1, dtype=np.int64)
    for i in range(n):
        start[(np.int64(region[i]) * 2 + np.int64(urban[i])) * 3 + np.int64(age[i]) + 1] += 1
    for k in range(n_labels):
        start[k + 1] += start[k]
    for i in range(n):
        lab = (np.int64(region[i]) * 2 + np.int64(urban[i])) * 3 + np.int64(age[i])
        j = start[lab]
        start[lab] = j + 1
        x = lit[i]
        if not urban[i]:
            x = x * rural_factor
        x = x + edu_shift * np.float64(edu[i])
        if x < 0.0:
            x = 0.0
        elif x > 1.0:
            x = 1.0
        if not access[i]:
            x = x * offline_factor
        o_region[j] = region[i]
        o_urban[j] = urban[i]
        o_age[j] = age[i]
        o_edu[j] = edu[i]
        o_access[j] = access[i]
        o_privacy[j] = np.float32(privacy[i])
        o_need[j] = need_rate_by_age[age[i]]
        o_lit[j] = np.float32(x)


def create_population(scenario, rng: np.random.Generator) -> Population:
    """Draw the initial population of a scenario.

    Regions are assigned with unequal sizes (proportional to ``1, 2, ...,
    regions.n`` shuffled, so regions differ as provinces do); urban/rural, age
    group and education are independent draws; internet access is Bernoulli by
    urban/rural times the age factor; literacy is Beta by age group, scaled for
    rural citizens and for citizens without access, and shifted by education
    (see the module docstring for the order of draws and the calibration).

    Parameters
    ----------
    scenario : Scenario
    rng : numpy.random.Generator
        The population stream (see :mod:`govsim.model`, "Random streams").

    Returns
    -------
    Population
    """
    s = scenario
    n = int(s["citizens.n"])
    n_regions = int(s["regions.n"])
    weights = rng.permutation(np.arange(1, n_regions + 1, dtype=float))
    region = rng.choice(n_regions, size=n, p=weights / weights.sum())
    # every region gets at least one citizen so each local government has a constituency
    region[: n_regions] = np.arange(n_regions)
    region = region.astype(np.int16 if n_regions < 2**15 else np.int32)
    urban = rng.random(n) < s["citizens.urban_share"]
    age = _choice_by_shares(rng, s["citizens.age_shares"], n)
    edu = _choice_by_shares(rng, s["citizens.education_shares"], n)

    u_access = rng.random(n)
    p_age = np.asarray(s["citizens.access_age_factor"], dtype=np.float64)
    access = np.empty(n, dtype=bool)
    _access(urban, age, u_access, float(s["citizens.access_urban"]), float(s["citizens.access_rural"]),
            p_age, access)
    del u_access

    a = np.asarray(s["citizens.literacy_a"])[age]
    b = np.asarray(s["citizens.literacy_b"])[age]
    lit = rng.beta(a, b)
    del a, b

    pm = s["citizens.privacy_mean"]
    privacy = rng.beta(4 * pm, 4 * (1 - pm), size=n)

    # literacy transforms, then number the citizens by block (region, urban/rural, age): neighbour
    # reads become local; one compiled pass each (a stable counting sort by block label)
    out_region = np.empty(n, dtype=region.dtype)
    out_urban = np.empty(n, dtype=bool)
    out_age = np.empty(n, dtype=np.int8)
    out_edu = np.empty(n, dtype=np.int8)
    out_access = np.empty(n, dtype=bool)
    out_privacy = np.empty(n, dtype=np.float32)
    out_need = np.empty(n, dtype=np.float32)
    out_lit = np.empty(n, dtype=np.float32)
    _finish(
        region, urban, age, edu, access, lit, privacy,
        np.asarray(s["citizens.need_rate"], dtype=np.float32),
        float(s["citizens.rural_literacy_factor"]), float(s["citizens.education_literacy_shift"]),
        float(s["citizens.offline_literacy_factor"]), 2 * len(AGE_GROUPS) * n_regions,
        out_region, out_urban, out_age, out_edu, out_access, out_privacy, out_need, out_lit,
    )
    region, urban, age, edu, access = out_region, out_urban, out_age, out_edu, out_access
    privacy, need_rate, lit = out_privacy, out_need, out_lit
    del out_region, out_urban, out_age, out_edu, out_access, out_privacy, out_need, out_lit

    return Population(
        n=n,
        region=region,
        urban=urban,
        age_group=age,
        education=edu,
        access=access,
        privacy=privacy,
        need_rate=need_rate,
        literacy=lit,
        aware=np.zeros(n, dtype=bool),
        adopted=np.zeros(n, dtype=bool),
        habit=np.full(n, -1, dtype=np.int8),
        trust=np.full(n, s["citizens.initial_trust"], dtype=np.float32),
        satisfaction=np.full(n, 0.5, dtype=np.float32),
        time_cost=np.zeros(n, dtype=np.float32),
        needs_total=np.zeros(n, dtype=np.int32),
        unmet=np.zeros(n, dtype=np.int32),
        expectation=np.full(n, 0.5, dtype=np.float32),
        served=np.zeros(n, dtype=np.int32),
        lapsed_until=np.zeros(n, dtype=np.int32),
        trained=np.zeros(n, dtype=bool),
    )
