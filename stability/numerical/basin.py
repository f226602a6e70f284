r"""Basin-of-attraction probe: from how far does iterated retraining still return to :math:`\theta^*`?

Theorem 1 (Bertrand et al. 2024) guarantees contraction only for :math:`\theta_0` "close enough" to
:math:`\theta^*`; the size of that neighbourhood is not given. This probe measures it: for each
radius :math:`r` (ascending) and ``n_directions`` random unit directions :math:`u` (fixed by
``seed``), iterate :math:`\theta_{t+1} = G_\lambda(\theta_t)` from :math:`\theta^* + r u` until
:math:`\|\theta_t - \theta^*\| \le` ``tol`` (converged) or ``max_steps`` steps or a step fails
(non-convergence of the inner maximisation, NaN likelihood: not converged). The reported radius
is the largest tested :math:`r` such that every start at every tested radius :math:`\le r`
converged (0.0 if the smallest already fails). It is a lower estimate of the basin's inner radius
along the sampled directions, not a proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._domains import check
from .operator import Retraining

__all__ = ["BasinResult", "basin_radius"]


@dataclass(frozen=True)
class BasinResult:
    """``converged[i, j]``: start ``i`` radius, ``j`` direction; ``steps`` the iterations used."""

    lambda_: float
    radius: float
    radii: np.ndarray
    converged: np.ndarray
    steps: np.ndarray
    final_distance: np.ndarray
    tol: float
    max_steps: int


def basin_radius(
    problem: Retraining,
    lambda_,
    radii,
    *,
    n_directions: int = 4,
    max_steps: int = 200,
    tol: float = 1e-8,
    seed=0,
) -> BasinResult:
    """Probe the basin of attraction of :math:`\\theta^*` under :math:`G_\\lambda` (module docstring).

    ``radii``: positive increasing distances; ``lambda_ >= 0`` finite (at :math:`\\lambda=\\infty`
    the map does not contract); ``tol > 0``; ``seed``: int or numpy Generator.

    >>> from scipy import stats
    >>> from stability.numerical.models import StudentT
    >>> p = Retraining(StudentT(5.0), stats.norm())
    >>> basin_radius(p, 0.5, [0.1, 1.0], n_directions=2).radius
    1.0
    """
    lam = float(check("lambda_", lambda_))
    if not np.isfinite(lam):
        raise ValueError(f"lambda_ must be finite for the basin probe, got {lam!r}")
    radii = np.asarray(radii, dtype=float)
    if radii.ndim != 1 or radii.size == 0 or not np.all(radii > 0) or np.any(np.diff(radii) <= 0):
        raise ValueError(f"radii must be a non-empty increasing 1-D array of numbers > 0, got {radii!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    d = problem.model.n_params
    u = rng.standard_normal((n_directions, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    ts = problem.theta_star
    conv = np.zeros((radii.size, n_directions), dtype=bool)
    steps = np.zeros((radii.size, n_directions), dtype=int)
    dist = np.full((radii.size, n_directions), np.nan)
    for i, r in enumerate(radii):
        for j in range(n_directions):
            th = ts + r * u[j]
            k = 0
            while k < max_steps:
                k += 1
                res = problem.G(th, lam)
                if not res.converged:
                    break
                th = res.theta
                dist[i, j] = float(np.linalg.norm(th - ts))
                if dist[i, j] <= tol:
                    conv[i, j] = True
                    break
            steps[i, j] = k
    ok = conv.all(axis=1)
    first_bad = np.argmin(ok) if not ok.all() else radii.size
    radius = float(radii[first_bad - 1]) if first_bad > 0 else 0.0
    return BasinResult(lam, radius, radii, conv, steps, dist, float(tol), int(max_steps))
