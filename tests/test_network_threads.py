"""The two-thread neighbour sum of large networks gives the one-thread result to the bit."""

import numpy as np

from govsim import networks


def test_two_thread_neighbour_sum_is_bit_identical(monkeypatch):
    net = networks.homophily(np.repeat(np.arange(6), 5000), 10, 0.3, np.random.default_rng(2))
    x = np.random.default_rng(3).random(net.n) * 2.0**30  # large values: any change of summation order shows
    monkeypatch.setattr(networks, "PARALLEL_MIN_NNZ", 1 << 62)
    one = net.neighbour_sum(x)
    monkeypatch.setattr(networks, "PARALLEL_MIN_NNZ", 1)
    monkeypatch.setattr(networks, "_n_threads", lambda: 2)
    two = net.neighbour_sum(x)
    assert net._halves(net.to_scipy()) is not None
    np.testing.assert_array_equal(one, two)
    out = np.empty(net.n)
    np.testing.assert_array_equal(net.neighbour_share(x, out=out), one / np.maximum(net.degree, 1))
