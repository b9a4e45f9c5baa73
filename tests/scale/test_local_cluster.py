"""The out-of-core fit on ``distributed``: a LocalCluster of 2 worker processes,
reached through its address as a real cluster would be."""

from __future__ import annotations

import numpy as np
import pytest

import hierreg_formula as hierreg

from .sim import frame, to_dask
from .test_dask_fit import assert_same_fit, close

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        with distributed.Client(cluster.scheduler_address) as c:  # as for a remote cluster
            yield c


def test_fit_on_two_worker_processes(client):
    df = frame(n=800, seed=5)
    ddf = to_dask(df, npartitions=6)
    mem = hierreg.fit("y ~ x + (1 | g) + (1 | h)", df)
    with distributed.get_task_stream(client) as ts:
        ooc = hierreg.fit("y ~ x + (1 | g) + (1 | h)", ddf)
    assert_same_fit(mem, ooc)
    workers = {t["worker"] for t in ts.data}
    assert workers <= set(client.scheduler_info()["workers"]) and len(workers) == 2
    pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2 and __import__("os").getpid() not in pids
    fv = ooc.fittedvalues.compute()  # lazy series computed on the cluster
    close(fv.loc[mem.fittedvalues.index], mem.fittedvalues)
    close(np.asarray(ooc.predict(ddf).compute()), mem.predict(df))


def test_glmm_on_two_worker_processes(client):
    # the partitions' arrays persist on the workers; every PIRLS pass runs there
    from .test_dask_glmm import assert_same_glmm

    df = hierreg.load_dataset("cbpp")
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    mem = hierreg.fit(f, df, family="binomial")
    ddf = to_dask(df, npartitions=4)
    with distributed.get_task_stream(client) as ts:
        ooc = hierreg.fit(f, ddf, family="binomial", cov="rx")
    assert_same_glmm(hierreg.fit(f, df, family="binomial", cov="rx"), ooc)
    assert abs(ooc.objective - mem.objective) <= 1e-8 * mem.objective
    assert len({t["worker"] for t in ts.data}) == 2
    close(ooc.fittedvalues.compute().to_numpy(), mem.fittedvalues.to_numpy())
