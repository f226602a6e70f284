"""Seeded random (A, B) pairs for the randomized checks of §3–4."""

from __future__ import annotations

import mpmath as mp
import numpy as np

__all__ = ["generalized_eigs_mp", "random_pair"]


def random_pair(rng: np.random.Generator, d: int, commuting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """SPD ``A`` with eigenvalues in [0.1, 10] and PSD ``B`` (rank-deficient one time in five)."""
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = (Q * 10 ** rng.uniform(-1, 1, size=d)) @ Q.T
    if commuting:
        B = (Q * 10 ** rng.uniform(-1, 1, size=d)) @ Q.T
    else:
        R = rng.normal(size=(d, d))
        if rng.uniform() < 0.2 and d > 1:
            R[:, 0] = 0.0  # a zero generalised eigenvalue
        B = R @ R.T
    return (A + A.T) / 2, (B + B.T) / 2


def generalized_eigs_mp(A: np.ndarray, B: np.ndarray, dps: int = 50) -> list:
    r"""Generalised eigenvalues of :math:`Bv = \gamma Av` in mpmath: :math:`L^{-1}BL^{-T}`, :math:`A = LL^T`.

    An independent route from the toolkit's LAPACK ``eigh(B, A)``, at ``dps`` digits.
    """
    with mp.workdps(dps):
        Am, Bm = mp.matrix(A.tolist()), mp.matrix(B.tolist())
        L = mp.cholesky(Am)
        Li = mp.inverse(L)
        C = Li * Bm * Li.T
        C = (C + C.T) / 2
        return sorted(mp.eigsy(C, eigvals_only=True))
