"""govsim: agent-based simulation of digital-government adoption.

A Mesa model of governments (central and local), service platforms and a
vectorised population of citizens of varying digital literacy on a social
network. It runs scenarios on the adoption of online government services, the
digital divide and the costs of digital formalism, and global sensitivity
analysis.

Examples
--------
>>> import govsim
>>> scenario = govsim.load_scenario("baseline", {"citizens.n": 2000})
>>> model = govsim.GovModel(scenario, rng=42)
>>> results = model.run(24)
>>> list(results.columns[:3])
['step', 'adoption_rate', 'aware_rate']
"""

__version__ = "0.1.0"

from .errors import ScenarioError  # noqa: E402
from .config import Param, Scenario, load_scenario  # noqa: E402
from . import citizens, networks, awareness, adoption, channels, learning  # noqa: E402,F401
from . import cadres, platforms, governments, events, metrics, calibration  # noqa: E402,F401
from . import evaluation, policies, shocks  # noqa: E402,F401
from . import training, divide  # noqa: E402,F401
from .adoption import AdoptionRule, register_rule  # noqa: E402
from .model import GovModel  # noqa: E402

__all__ = [
    "GovModel",
    "Scenario",
    "ScenarioError",
    "Param",
    "AdoptionRule",
    "load_scenario",
    "register_rule",
    "__version__",
]
