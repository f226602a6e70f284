"""The built-in sweep tasks: each calls a library function and returns a flat dict of numbers.

- ``simulate``: :func:`stability.simulate` with the spec's arguments; metrics are, at the last
  generation, the mean / median / 5% / 95% quantiles over chains of the distance (``w2`` for
  Gaussians, ``error`` otherwise) and of the KL divergence, the collapsed fraction, and the median
  distance at every generation (``<stat>_median_curve``).
- ``analyze``: :func:`stability.analyze` (``data``: a ``.npy`` / ``.csv`` file, relative to the spec,
  or ``NAME:ARGS`` as for ``stability analyze --dist``); metrics are the report's scalars.
- ``retrain``: :func:`stability.experiments.retrain` with ``default_config(model, data, profile,
  **overrides)``, in its own run directory ``<store>.runs/<task_id>/`` and with ``resume=True``, so
  an interrupted task continues from its last checkpoint; metrics are each chain's last generation
  (``<key>`` for one chain, ``<chain>/<key>`` for several).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_analyze", "run_retrain", "run_simulate", "simulate_bands"]

_BAND_KEYS = (("mean", "mean"), ("median", "median"), ("q05", "lower"), ("q95", "upper"))


def run_simulate(**kwargs) -> dict:
    from ..dynamics.simulate import simulate

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

    from ..dynamics.simulate import simulate

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


def run_analyze(*, model, data, lambda_, base_dir=None, **options) -> dict:
    from ..analyze_cli import load_data, parse_dist
    from ..report import analyze

    if isinstance(data, str) and Path(data).suffix in (".npy", ".csv"):
        path = Path(data) if base_dir is None else Path(base_dir) / data
        data = load_data(str(path))
    elif isinstance(data, str):
        data = parse_dist(data)
    r = analyze(model, data, lambda_, **options)
    keys = ("lambda_", "rate_exact", "norm2", "norm_energy", "alpha", "L", "eps", "rate_sharp", "rate_paper")
    return {**{k: getattr(r, k) for k in keys}, "gamma_max": float(r.gammas[-1])}


def run_retrain(*, workdir, task_id, profile: str = "quick", lambdas=None, **overrides) -> dict:
    from ..experiments.loop import default_config, retrain

    if lambdas is not None:
        overrides["lambdas"] = lambdas if isinstance(lambdas, (list, tuple)) else [lambdas]
    config = default_config(overrides.pop("model"), overrides.pop("data"), profile, **overrides)
    result = retrain(config, Path(workdir) / task_id, resume=True, progress=False, plots=False)
    last = {}
    for row in result.rows:  # sorted by chain then generation: the last row of a chain wins
        last[row["chain"]] = row
    out = {}
    for chain, row in last.items():
        prefix = "" if len(last) == 1 else f"{chain}/"
        for key, value in row.items():
            if key not in ("chain",) and isinstance(value, (int, float)) and not isinstance(value, bool):
                out[prefix + key] = value
    return out
