"""The Mesa agent base of govsim's governments and platforms.

:class:`GovAgent` is a :class:`mesa.Agent` that numbers agents per model
without keeping the model alive. Mesa 3.3 numbers agents with a class-level
dictionary keyed by the model (``mesa.Agent._ids``), which holds a strong
reference to every model ever built, so a process that runs many models (an
experiment's worker) never frees them: at 10^4 citizens that is about 3 MB a
run (mesa#3179, fixed in Mesa 3.4 by mesa#3180, which numbers agents in the
model instead). govsim's agents look their counter up in a weak-keyed
dictionary instead; the ``unique_id`` values are the same (1, 2, ... per model,
in creation order). Under Mesa >= 3.4 the dictionary is not used.

Examples
--------
>>> import gc, weakref
>>> import govsim
>>> model = govsim.GovModel(govsim.load_scenario("baseline", {"citizens.n": 300}), rng=1)
>>> [a.unique_id for a in model.local_governments][:2] == [2, 3]  # the central government is 1
True
>>> ref = weakref.ref(model)
>>> del model; _ = gc.collect()
>>> ref() is None   # freed: nothing keeps a finished model alive
True
"""

from __future__ import annotations

import itertools
import weakref

import mesa

__all__ = ["GovAgent"]


class _ModelCounters(weakref.WeakKeyDictionary):
    """Agent counters per model, ``itertools.count(1)`` created on first use, keys held weakly."""

    def __getitem__(self, model):
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = itertools.count(1)
            self[model] = counter
            return counter


class GovAgent(mesa.Agent):
    """A :class:`mesa.Agent` whose per-model id counter does not keep the model alive (see the module docstring)."""

    _ids = _ModelCounters()
