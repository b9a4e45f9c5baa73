"""The q-space formulas against brute-force ``n x n`` linear algebra on small random models.

Independent check of the algebra (the R references are in the other test files):
``W``, ``Z'PZ``, the ``V^{-2}``/``V^{-3}`` pieces, the analytic Hessian (against
central differences of the deviance) and the Kenward-Roger pieces (against a
direct ``n x n`` transcription of Kenward & Roger's formulas), on models with a
vector term crossed with scalar terms, at interior and boundary ``theta``
(the fast ``Lambda^{-1}`` path and the general one).
"""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core.structure import TermArrays
from hierreg_formula.inference.arrays import ModelArrays
from hierreg_formula.inference.kenward_roger import covariance_element_indicators, kr_adjustment
from hierreg_formula.inference.qspace import DenseSizeError, MarginalQuantities
from hierreg_formula.inference.varpar import analytic_hessian, deviance_varpar, varpar_covariance


def random_problem(seed: int = 0, n: int = 120) -> ModelArrays:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g1 = rng.integers(0, 9, n)
    g2 = rng.integers(0, 5, n)
    g3 = rng.integers(0, 14, n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    terms = [
        TermArrays(g1, 9, np.column_stack([np.ones(n), x])),  # vector term
        TermArrays(g2, 5, np.ones((n, 1))),
        TermArrays(g3, 14, x[:, None] * 0.5 + 1.0),
    ]
    b1 = rng.normal(size=(9, 2)) * [1.0, 0.5]
    y = (
        X @ [1.0, 2.0, -1.0]
        + b1[g1, 0]
        + b1[g1, 1] * x
        + rng.normal(size=5)[g2]
        + rng.normal(size=n)
    )
    y = y + 0.3 * rng.normal(size=14)[g3]
    return ModelArrays.from_arrays(X, y, terms)


THETAS = {
    "interior": np.array([0.8, 0.2, 0.4, 0.6, 0.3]),
    "boundary": np.array([0.8, 0.2, 0.0, 0.6, 0.3]),  # singular vector term: general path
}


def dense_pieces(prob: ModelArrays, theta: np.ndarray) -> dict:
    Z = prob.Z.toarray()
    Lam = prob.lambda_matrix(theta).toarray()
    V = np.eye(prob.n) + Z @ Lam @ Lam.T @ Z.T
    Vi = np.linalg.inv(V)
    X = prob.X
    M = X.T @ Vi @ X
    P = Vi - Vi @ X @ np.linalg.solve(M, X.T @ Vi)
    return dict(Z=Z, Lam=Lam, V=V, Vi=Vi, M=M, P=P)


@pytest.mark.parametrize("where", list(THETAS))
def test_marginal_quantities(where):
    prob = random_problem()
    theta = THETAS[where]
    mq = MarginalQuantities(prob, theta)
    assert mq.fast == (where == "interior")
    d = dense_pieces(prob, theta)
    Z = d["Z"]  # the q columns are in the caller's term order (no permutation)
    Vi, P, X, y = d["Vi"], d["P"], prob.X, prob.y
    np.testing.assert_allclose(mq.W, Z.T @ Vi @ Z, atol=1e-10)
    np.testing.assert_allclose(mq.ZPZ, Z.T @ P @ Z, atol=1e-10)
    np.testing.assert_allclose(mq.U, Z.T @ Vi @ X, atol=1e-10)
    np.testing.assert_allclose(mq.ZPy, Z.T @ P @ y, atol=1e-9)
    np.testing.assert_allclose(mq.pwrss, y @ P @ y, rtol=1e-10)
    np.testing.assert_allclose(mq.ZV2X, Z.T @ Vi @ Vi @ X, atol=1e-10)
    np.testing.assert_allclose(mq.XV3X, X.T @ Vi @ Vi @ Vi @ X, rtol=1e-10)
    np.testing.assert_allclose(mq.trace_V2, np.trace(Vi @ Vi), rtol=1e-12)
    ZV2Z = Z.T @ Vi @ Vi @ Z
    for a, s in enumerate(mq.diag_block_sums(ZV2Z)):
        np.testing.assert_allclose(mq.ZV2Z_diag_sums()[a], s, atol=1e-10)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("where", list(THETAS))
def test_analytic_hessian_matches_differences(reml, where):
    prob = random_problem(1)
    theta = THETAS[where]
    sigma = 1.3
    mq = MarginalQuantities(prob, theta)
    H, g = analytic_hessian(mq, sigma, reml)
    vp = np.append(theta, sigma)

    def f(v):
        return deviance_varpar(prob, v[:-1], v[-1], reml)

    h = 1e-4
    E = np.eye(len(vp)) * h
    gn = np.array([(f(vp + e) - f(vp - e)) / (2 * h) for e in E])
    np.testing.assert_allclose(g, gn, rtol=1e-6, atol=1e-6)
    Hn = np.array(
        [
            [
                (f(vp + a + b) - f(vp + a - b) - f(vp - a + b) + f(vp - a - b)) / (4 * h * h)
                for b in E
            ]
            for a in E
        ]
    )
    np.testing.assert_allclose(H, Hn, rtol=1e-4, atol=1e-3)


def test_numeric_method_agrees_with_analytic():
    prob = random_problem(2)
    theta, sigma = THETAS["interior"], 1.1
    a = varpar_covariance(prob, theta, sigma, reml=True, method="analytic")
    n = varpar_covariance(prob, theta, sigma, reml=True, method="numeric")
    np.testing.assert_allclose(n.hessian, a.hessian, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(n.jacobian, a.jacobian, rtol=1e-6, atol=1e-10)


def kr_bruteforce(prob: ModelArrays, theta: np.ndarray, sigma: float) -> np.ndarray:
    """Kenward & Roger (1997) eqs. with n x n matrices, covariance-element parameters."""
    d = dense_pieces(prob, theta)
    Z, X = d["Z"], prob.X
    Sigma = sigma**2 * d["V"]
    Si = np.linalg.inv(Sigma)
    G = []
    for a, t in enumerate(prob.terms):
        Za = Z[:, prob.offsets[a] : prob.offsets[a + 1]]
        for e in covariance_element_indicators(t.k):
            G.append(Za @ np.kron(np.eye(t.nlevels), e) @ Za.T)
    G.append(np.eye(prob.n))
    Phi = np.linalg.inv(X.T @ Si @ X)
    Pm = [-X.T @ Si @ g @ Si @ X for g in G]
    Qm = [[X.T @ Si @ g @ Si @ h @ Si @ X for h in G] for g in G]
    r = len(G)
    info = np.array(
        [
            [
                np.trace(Si @ G[i] @ Si @ G[j])
                - 2 * np.trace(Phi @ Qm[i][j])
                + np.trace(Phi @ Pm[i] @ Phi @ Pm[j])
                for j in range(r)
            ]
            for i in range(r)
        ]
    )
    W = 2 * np.linalg.inv(info)
    Usum = sum(W[i, j] * (Qm[i][j] - Pm[i] @ Phi @ Pm[j]) for i in range(r) for j in range(r))
    return Phi + 2 * Phi @ Usum @ Phi


@pytest.mark.parametrize("where", list(THETAS))
def test_kenward_roger_adjustment(where):
    prob = random_problem(3)
    theta, sigma = THETAS[where], 0.9
    kr = kr_adjustment(prob, theta, sigma)
    np.testing.assert_allclose(kr.vcov_adj, kr_bruteforce(prob, theta, sigma), rtol=1e-9)


def test_size_limit_error_gives_the_cost():
    prob = random_problem()
    with pytest.raises(DenseSizeError, match="GB of memory"):
        MarginalQuantities(prob, THETAS["interior"], max_q=10)


def one_term_problem(seed: int = 4, n: int = 90) -> ModelArrays:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(0, 12, n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    Xz = np.column_stack([np.ones(n), x, x**2])  # a 3-column vector term
    y = X @ [1.0, 0.5, 0.2] + rng.normal(size=12)[g] + 0.4 * rng.normal(size=12)[g] * x
    return ModelArrays.from_arrays(X, y + rng.normal(size=n), [TermArrays(g, 12, Xz)])


@pytest.mark.parametrize(
    "theta",
    [np.array([0.9, 0.3, -0.2, 0.5, 0.1, 0.4]), np.array([0.9, 0.3, -0.2, 0.0, 0.0, 0.4])],
    ids=["interior", "boundary"],
)
def test_block_diagonal_path_matches_dense(theta):
    from hierreg_formula.inference.blockdiag import BlockDiagonalQuantities

    prob = one_term_problem()
    bd = BlockDiagonalQuantities(prob, theta)
    de = MarginalQuantities(prob, theta)
    np.testing.assert_allclose(bd.W.toarray(), de.W, atol=1e-10)
    np.testing.assert_allclose(bd.ZPZ.toarray(), de.ZPZ, atol=1e-10)
    for name in ("U", "M", "beta", "ZPy", "ZV2X", "XV2X", "XV3X"):
        np.testing.assert_allclose(getattr(bd, name), getattr(de, name), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(bd.pwrss, de.pwrss, rtol=1e-12)
    np.testing.assert_allclose(bd.trace_V2, de.trace_V2, rtol=1e-12)
    np.testing.assert_allclose(bd.ZV2Z_diag_sums()[0], de.ZV2Z_diag_sums()[0], atol=1e-10)
    mats = [[np.eye(3), np.ones((3, 3)), np.diag([1.0, 2.0, 3.0])]]
    for G, H in ((bd.W, de.W), (bd.ZPZ, de.ZPZ)):
        np.testing.assert_allclose(bd.pair_traces(G, mats), de.pair_traces(H, mats), rtol=1e-10)
        np.testing.assert_allclose(bd.diag_block_sums(G)[0], de.diag_block_sums(H)[0], atol=1e-10)
    for reml in (True, False):
        np.testing.assert_allclose(
            analytic_hessian(bd, 1.2, reml)[0], analytic_hessian(de, 1.2, reml)[0], rtol=1e-9
        )
    np.testing.assert_allclose(
        kr_adjustment(prob, theta, 1.2).vcov_adj, kr_bruteforce(prob, theta, 1.2), rtol=1e-9
    )
