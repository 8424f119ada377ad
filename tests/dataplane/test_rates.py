"""The kernel-style rate estimator (2 s samples, EWMA 1/4, fixed point)."""

from __future__ import annotations

from lvstui.dataplane.rates import Estimator
from lvstui.model import Stats


def test_steady_rate_converges_like_the_kernel() -> None:
    est = Estimator()
    total = Stats()
    for i in range(1, 80):
        # 100 conn/s, 1000 pkt/s in, 500 out, 1 MB/s in, 2 MB/s out, sampled every 2 s
        total = Stats(200 * i, 2000 * i, 1000 * i, 2_000_000 * i, 4_000_000 * i)
        est.sample(total)
    r = est.read(total)
    assert (r.cps, r.inpps, r.outpps, r.inbps, r.outbps) == (100, 1000, 500, 1_000_000, 2_000_000)
    assert r.conns == total.conns


def test_first_sample_is_a_quarter() -> None:
    est = Estimator()
    est.sample(Stats(conns=80, inbytes=8000))
    r = est.read(Stats(conns=80, inbytes=8000))
    # 40/s observed; EWMA starts from 0 with weight 1/4: 10/s, 1000 B/s
    assert r.cps == 10
    assert r.inbps == 1000


def test_decay_after_traffic_stops() -> None:
    est = Estimator()
    est.sample(Stats(conns=400))
    rates = []
    for _ in range(4):
        est.sample(Stats(conns=400))
        rates.append(est.read(Stats(conns=400)).cps)
    assert rates == sorted(rates, reverse=True) and rates[-1] < rates[0]
