"""The blocked PLS factor against a dense, textbook construction of the same system."""

from __future__ import annotations

import numpy as np
import pytest

from hierreg_formula.core import TermArrays, ThetaMap, cross_products, factorize
from hierreg_formula.core.lmm import profiled_deviance
from hierreg_formula.core.structure import z_matrix


def _problem(seed: int, ks=(2, 1, 2), levels=(15, 6, 4), n=200):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    terms = []
    for k, L in zip(ks, levels, strict=True):
        codes = rng.integers(0, L, size=n)
        Xz = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        terms.append(TermArrays(codes.astype(np.int64), L, Xz))
    y = rng.normal(size=n) + X @ np.array([1.0, 2.0, -1.0])
    return X, y, terms, rng


def _dense(X, y, terms, lambdas):
    Z = np.hstack([z_matrix(t).toarray() for t in terms])
    blocks = [
        np.kron(np.eye(t.nlevels), lam) if lam.ndim == 2 else _blockdiag_dense(lam)
        for t, lam in zip(terms, lambdas, strict=True)
    ]
    q = sum(b.shape[0] for b in blocks)
    Lam = np.zeros((q, q))
    o = 0
    for b in blocks:
        Lam[o : o + b.shape[0], o : o + b.shape[0]] = b
        o += b.shape[0]
    ZL = Z @ Lam
    p = X.shape[1]
    A = np.block([[ZL.T @ ZL + np.eye(q), ZL.T @ X], [X.T @ ZL, X.T @ X]])
    rhs = np.concatenate([ZL.T @ y, X.T @ y])
    sol = np.linalg.solve(A, rhs)
    u, beta = sol[:q], sol[q:]
    r = y - ZL @ u - X @ beta
    pwrss = r @ r + u @ u
    ldL2 = np.linalg.slogdet(ZL.T @ ZL + np.eye(q))[1]
    Ainv = np.linalg.inv(A)
    RX = np.linalg.inv(Ainv[q:, q:])
    ldRX2 = np.linalg.slogdet(RX)[1]
    condcov = Lam @ np.linalg.inv(ZL.T @ ZL + np.eye(q)) @ Lam.T
    return dict(
        beta=beta, b=Lam @ u, pwrss=pwrss, ldL2=ldL2, ldRX2=ldRX2, RX=RX, condcov=condcov, p=p
    )


def _blockdiag_dense(stack):
    L, k, _ = stack.shape
    out = np.zeros((L * k, L * k))
    for i in range(L):
        out[i * k : (i + 1) * k, i * k : (i + 1) * k] = stack[i]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "ks,levels", [((2,), (12,)), ((1, 1), (20, 7)), ((2, 1, 2), (15, 6, 4)), ((1, 2), (5, 30))]
)
def test_factor_matches_dense(seed, ks, levels):
    X, y, terms, rng = _problem(seed, ks, levels)
    tmap = ThetaMap([t.k for t in terms])
    theta = np.abs(rng.normal(size=tmap.size)) + 0.1
    factors = tmap.factors(theta)
    cp = cross_products(X, y, terms)
    f = factorize(cp, factors)
    ref = _dense(X, y, terms, factors)
    assert f.pwrss == pytest.approx(ref["pwrss"], rel=1e-10)
    assert f.logdet_L == pytest.approx(ref["ldL2"], rel=1e-10)
    assert f.logdet_RX == pytest.approx(ref["ldRX2"], rel=1e-10)
    np.testing.assert_allclose(f.beta, ref["beta"], rtol=1e-9, atol=1e-10)
    b = np.concatenate([bt.ravel() for bt in f.b_by_term()])
    np.testing.assert_allclose(b, ref["b"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(f.fixed_precision(), ref["RX"], rtol=1e-9, atol=1e-9)
    # conditional covariance blocks, in the order of the terms
    cc = f.cond_cov_blocks()
    off = 0
    for j, t in enumerate(terms):
        blocks = cc[j]
        for lev in range(t.nlevels):
            sl = slice(off + lev * t.k, off + (lev + 1) * t.k)
            np.testing.assert_allclose(blocks[lev], ref["condcov"][sl, sl], rtol=1e-8, atol=1e-12)
        off += t.q


def test_per_level_lambdas_and_ridge_on_beta():
    X, y, terms, rng = _problem(5, (2, 1), (10, 4))
    lams = [np.abs(rng.normal(size=(t.nlevels, t.k, t.k))) * np.eye(t.k) + 0.2 for t in terms]
    lams = [np.tril(lam) for lam in lams]
    cp = cross_products(X, y, terms)
    pen = 3.0 * np.eye(X.shape[1])
    f = factorize(cp, lams, xpen=pen)
    # dense: minimise ||y - X beta - Z Lam u||^2 + ||u||^2 + beta' pen beta
    Z = np.hstack([z_matrix(t).toarray() for t in terms])
    Lam = np.zeros((Z.shape[1], Z.shape[1]))
    o = 0
    for lam in lams:
        bd = _blockdiag_dense(lam)
        Lam[o : o + bd.shape[0], o : o + bd.shape[0]] = bd
        o += bd.shape[0]
    M = np.hstack([Z @ Lam, X])
    P = np.zeros((M.shape[1], M.shape[1]))
    P[: Z.shape[1], : Z.shape[1]] = np.eye(Z.shape[1])
    P[Z.shape[1] :, Z.shape[1] :] = pen
    sol = np.linalg.solve(M.T @ M + P, M.T @ y)
    np.testing.assert_allclose(f.beta, sol[Z.shape[1] :], rtol=1e-9)
    b = np.concatenate([bt.ravel() for bt in f.b_by_term()])
    np.testing.assert_allclose(b, Lam @ sol[: Z.shape[1]], rtol=1e-8, atol=1e-10)


def test_sparse_fill_in_path_matches_pair_path(monkeypatch):
    import hierreg_formula.core.fillin as fillin

    X, y, terms, rng = _problem(3, (2, 1, 2), (25, 8, 3))
    tmap = ThetaMap([t.k for t in terms])
    theta = np.abs(rng.normal(size=tmap.size)) + 0.1
    fs = tmap.factors(theta)
    cp_pairs = cross_products(X, y, terms)
    assert cp_pairs.rest.pairs is not None
    monkeypatch.setattr(fillin, "MAX_PAIRS", 0)
    cp_sparse = cross_products(X, y, terms)
    assert cp_sparse.rest.pairs is None
    f1 = factorize(cp_pairs, fs)
    f2 = factorize(cp_sparse, fs)
    assert profiled_deviance(f1, True) == pytest.approx(profiled_deviance(f2, True), rel=1e-12)
    for c1, c2 in zip(f1.cond_cov_blocks(), f2.cond_cov_blocks(), strict=True):
        np.testing.assert_allclose(c1, c2, rtol=1e-10, atol=1e-14)


def test_theta_map_roundtrip_and_bounds():
    tm = ThetaMap([2, 1, 3])
    assert tm.size == 3 + 1 + 6
    th = np.arange(1.0, 11.0)
    fs = tm.factors(th)
    np.testing.assert_array_equal(tm.theta_of(fs), th)
    assert fs[0].tolist() == [[1.0, 0.0], [2.0, 3.0]]
    assert np.isinf(tm.lower).sum() == 1 + 3


@pytest.mark.parametrize("include_x", [False, True])
@pytest.mark.parametrize("ks,levels", [((2,), (12,)), ((1, 1), (20, 7)), ((2, 1, 2), (15, 6, 4))])
def test_inverse_diag_blocks_match_dense(ks, levels, include_x):
    """Level blocks of A^{-1} (or of M^{-1}'s u block) against the dense inverse."""
    X, y, terms, rng = _problem(0, ks, levels)
    tmap = ThetaMap([t.k for t in terms])
    fs = tmap.factors(np.abs(rng.normal(size=tmap.size)) + 0.1)
    f = factorize(cross_products(X, y, terms), fs)
    Z = np.hstack([z_matrix(t).toarray() for t in terms])
    q = Z.shape[1]
    Lam = np.zeros((q, q))
    o = 0
    for T, t in zip(fs, terms, strict=True):
        for lev in range(t.nlevels):
            Lam[o + lev * t.k : o + (lev + 1) * t.k, o + lev * t.k : o + (lev + 1) * t.k] = T
        o += t.q
    ZL = Z @ Lam
    A = ZL.T @ ZL + np.eye(q)
    M = np.block([[A, ZL.T @ X], [X.T @ ZL, X.T @ X]]) if include_x else A
    inv = np.linalg.inv(M)[:q, :q]
    o = 0
    for V, t in zip(f.inverse_diag_blocks(include_x), terms, strict=True):
        for lev in range(t.nlevels):
            sl = slice(o + lev * t.k, o + (lev + 1) * t.k)
            np.testing.assert_allclose(V[lev], inv[sl, sl], rtol=1e-9, atol=1e-12)
        o += t.q
