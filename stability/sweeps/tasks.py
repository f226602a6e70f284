"""The built-in sweep tasks: each calls a library function and returns a flat dict of numbers.

- ``simulate``: :func:`stability.simulate` with the spec's arguments; metrics are, at the last
  generation, the mean / median / 5% / 95% quantiles over chains of the distance (``w2`` for
  Gaussians, ``error`` otherwise) and of the KL divergence, the collapsed fraction, and the median
  distance at every generation (``<stat>_median_curve``).
- ``analyze``: :func:`stability.analyze` (``data``: a ``.npy`` / ``.csv`` file, relative to the spec,
  or ``NAME:ARGS`` as for ``stability analyze --dist``); metrics are the report's scalars.
- ``retrain_chains``: :func:`stability.numerical.retrain_chains` (batched Newton refits of a torch
  likelihood model) on a real sample of size ``n`` drawn from ``data`` (``NAME:ARGS``) or read from
  a file; the task's seed is split (``SeedSequence.spawn``) between the sample and the chains.
  Metrics: the excess NLL on the real sample at the last generation (mean, median, 5%, 95% over
  chains) and its median at every generation, the median ``||theta_T - theta*||``, the fraction of
  converged refits and the largest final gradient norm.
- ``retrain``: :func:`stability.experiments.retrain` with ``default_config(model, data, profile,
  **overrides)``, in its own run directory ``<store>.runs/<task_id>/`` and with ``resume=True``, so
  an interrupted task continues from its last checkpoint; metrics are each chain's last generation
  (``<key>`` for one chain, ``<chain>/<key>`` for several) and each metric at every generation
  (``<key>_curve``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import InputError

__all__ = [
    "retrain_chains_function",
    "run_analyze",
    "run_retrain",
    "run_retrain_chains",
    "run_simulate",
    "simulate_bands",
    "theorem2_curves",
]

_BAND_KEYS = (("mean", "mean"), ("median", "median"), ("q05", "lower"), ("q95", "upper"))


def run_simulate(**kwargs) -> dict:
    from ..dynamics import simulate

    r = simulate(**kwargs, progress=False)
    stat = "w2" if r.cov is not None else "error"
    out = {"k": -1 if r.k is None else r.k, "w": r.w}
    for name in (stat, "kl"):
        band = r.band(name)
        out.update(
            {
                f"{name}_mean": band.mean[-1],
                f"{name}_median": band.median[-1],
                f"{name}_q05": band.lower[-1],
                f"{name}_q95": band.upper[-1],
            }
        )
    out["collapsed_fraction"] = r.collapsed[-1].mean()
    out[f"{stat}_median_curve"] = r.band(stat).median
    return out


def simulate_bands(stats: list | None = None, **kwargs) -> dict:
    """:func:`stability.simulate`, then the band over chains of each statistic at every generation.

    A ``module:function`` task (``task = "stability.sweeps.tasks:simulate_bands"``) for figures that
    plot curves. ``stats``: names among ``"w2"``, ``"kl"``, ``"error"`` and ``"sigma"`` (the standard
    deviation of the first coordinate of a Gaussian, :math:`\\sqrt{\\Sigma_{t,11}}`), default
    ``["w2"]``. Metrics: ``<stat>_mean``, ``<stat>_median``, ``<stat>_q05``, ``<stat>_q95``, each a list
    over generations ``0..G``, and ``collapsed_fraction`` (a list too).
    """
    import numpy as np

    from ..dynamics import simulate

    r = simulate(**kwargs, progress=False)
    out = {}
    for stat in stats or ["w2"]:
        if stat == "sigma":
            if r.cov is None:
                raise ValueError("stats: 'sigma' needs the gaussian family")
            band = r.band(np.sqrt(r.cov[:, :, 0, 0]))
        elif stat in ("w2", "kl", "error"):
            band = r.band(stat)
        else:
            raise ValueError(f"stats must be among 'w2', 'kl', 'error', 'sigma', got {stat!r}")
        out.update({f"{stat}_{key}": getattr(band, attr) for key, attr in _BAND_KEYS})
    out["collapsed_fraction"] = r.collapsed.mean(axis=1)
    return out


def theorem2_curves(**kwargs) -> dict:
    """:func:`stability.theorem2_check`, as curves over generations ``0..G`` (a ``module:function`` task).

    Metrics: ``rho``, ``stat_err``, ``holds``, and the lists ``bound``, ``violation``, ``allowed``,
    ``std_err``, ``distance_median`` and ``distance_q95`` (``numpy.quantile`` over chains, its
    default linear interpolation).
    """
    import numpy as np

    from ..dynamics import theorem2_check

    c = theorem2_check(**kwargs)
    q50, q95 = np.quantile(c.distance, [0.5, 0.95], axis=1)
    curves = {k: getattr(c, k) for k in ("bound", "violation", "allowed", "std_err")}
    return {
        "rho": c.rho,
        "stat_err": c.stat_err,
        "holds": c.holds,
        **curves,
        "distance_median": q50,
        "distance_q95": q95,
    }


def retrain_chains_function() -> Callable | None:
    """:func:`stability.numerical.retrain_chains`, or ``None`` in a version without it."""
    from .. import numerical

    return getattr(numerical, "retrain_chains", None)


def _load(data, base_dir):
    from ..families.data import load_data, parse_dist

    if isinstance(data, str) and Path(data).suffix in (".npy", ".csv"):
        return load_data(str(Path(data) if base_dir is None else Path(base_dir) / data))
    if isinstance(data, str):
        return parse_dist(data)
    return data


def run_retrain_chains(*, model, data, lambda_, generations, chains, seed, n=None, base_dir=None, **options) -> dict:
    import numpy as np

    fn = retrain_chains_function()
    if fn is None:
        raise ValueError("task: retrain_chains is not available in this version of stability")
    s_data, s_chains = np.random.SeedSequence(seed).spawn(2)
    source = _load(data, base_dir)
    if hasattr(source, "rvs"):
        if n is None:
            raise ValueError("n: needed to draw the real sample from a distribution")
        real = source.rvs(size=int(n), random_state=np.random.default_rng(s_data))
    else:
        real = np.asarray(source, dtype=float)
        if n is not None:
            if int(n) > len(real):
                raise InputError(
                    f"n must be at most the {len(real)} points of data {data!r} (the real sample is read from the "
                    f"file, not drawn), got n = {n}"
                )
            if int(n) < 2:
                raise InputError(f"n must be an integer >= 2, got {n}")
            real = real[: int(n)]
    r = fn(
        model, real, lambda_, generations=generations, chains=chains, seed=int(s_chains.generate_state(1)[0]), **options
    )
    ex = np.asarray(r.excess_nll, dtype=float)
    q05, q50, q95 = np.quantile(ex[-1], [0.05, 0.5, 0.95], method="inverted_cdf")
    theta, star = np.asarray(r.theta, dtype=float), np.asarray(r.theta_star, dtype=float)
    return {
        "k": r.k,
        "excess_nll_mean": ex[-1].mean(),
        "excess_nll_median": q50,
        "excess_nll_q05": q05,
        "excess_nll_q95": q95,
        "excess_nll_median_curve": np.median(ex, axis=1),
        "dist_theta_star_median": np.median(np.linalg.norm(theta[-1] - star, axis=-1)),
        "converged_fraction": float(np.mean(r.converged)) if np.size(r.converged) else 1.0,
        "max_grad_norm": float(np.max(r.grad_norm)) if np.size(r.grad_norm) else 0.0,
    }


def run_analyze(*, model, data, lambda_, base_dir=None, **options) -> dict:
    from ..report import analyze

    r = analyze(model, _load(data, base_dir), lambda_, **options)
    keys = ("lambda_", "rate_exact", "norm2", "norm_energy", "alpha", "L", "eps", "rate_sharp", "rate_paper")
    return {**{k: getattr(r, k) for k in keys}, "gamma_max": float(r.gammas[-1])}


def run_retrain(*, workdir, task_id, profile: str = "quick", lambdas=None, **overrides) -> dict:
    from ..experiments import default_config, retrain

    if lambdas is not None:
        overrides["lambdas"] = lambdas if isinstance(lambdas, (list, tuple)) else [lambdas]
    config = default_config(overrides.pop("model"), overrides.pop("data"), profile, **overrides)
    result = retrain(config, Path(workdir) / task_id, resume=True, progress=False, plots=False)
    by_chain = {}
    for row in result.rows:
        by_chain.setdefault(row["chain"], []).append(row)
    out = {}
    for chain, rows in by_chain.items():
        rows.sort(key=lambda r: r["generation"])
        prefix = "" if len(by_chain) == 1 else f"{chain}/"
        for key, value in rows[-1].items():
            if key != "chain" and isinstance(value, (int, float)) and not isinstance(value, bool):
                out[prefix + key] = value
                if key not in ("generation", "seconds"):  # the metric at every generation 0..T
                    out[f"{prefix}{key}_curve"] = [r.get(key, float("nan")) for r in rows]
    return out
