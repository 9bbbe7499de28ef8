"""The peer baseline: govsim's adoption model written the way a Mesa user would.

One ``mesa.Agent`` per citizen, neighbours from a networkx graph, agents
stepped with ``model.agents.shuffle_do("step")``. Updates are synchronous
(each agent computes its next state in ``step`` from the others' current
state, and all apply it in ``advance``), as govsim's are, so the two
implementations sample the same stochastic process and can be compared in
distribution (tests/test_plain_mesa.py) and in speed (benchmarks/bench_vs_mesa.py).

``fused.py`` is the benchmark's yardstick, not a peer: the same per-agent step
compiled into one numba loop over the citizens (table 1b of docs/performance.md).
"""
