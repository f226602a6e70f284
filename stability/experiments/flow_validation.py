r"""The stored, resumable run behind ``figures/fig_flow_contraction.py`` (predictions 1-3 of :mod:`.validation`).

:func:`run` writes into one folder (by default ``results/cpu/flow_validation``)::

    config.json                     configuration, command, commit, machine, date
    <data>/fit.pt                   theta* and the optimiser's report
    <data>/problem.pt               A, B (three forms), spectrum summary, base noise seed
    <data>/contraction.json         prediction 1: per-step ratios per lambda and start
    <data>/chains/<kind>_<lam>.pt   predictions 2 and 3: theta_t of every chain, saved after each generation
    summary.json                    one row per (data, lambda): the headline numbers

Every file is written atomically (:func:`.runs.atomic_save`); a killed run resumes where it stopped
(generation by generation for the chains, with per-round seeds ``(seed, chain, generation)``, so a resumed
chain equals an uninterrupted one). A stored file whose configuration differs from the current one is an
error, never silently reused.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from .runs import atomic_save, atomic_write_text
from .validation import FlowProblem

__all__ = ["DEFAULT", "FAST", "SCALE", "load_problem", "run", "stored_chains"]

DEFAULT = {
    "data": ["moons", "eight_gaussians"],
    "n": 500,
    "data_seed": 1,
    "transforms": 2,
    "hidden": [4],
    "flow_seed": 0,
    "beta": 1e-2,
    # quadrature mass tolerance per data set: eight Gaussians' sharp modes need 5.8 million points for 1e-6
    # (h = 0.01); 1e-3 keeps its rule small, and the rule's error shows in rate_crn - rate_exact
    "mass_tol": {"moons": 1e-6, "eight_gaussians": 1e-3},
    "fit": {"adam_steps": 1000, "lr": 1e-2, "lbfgs_iter": 1000, "newton_iter": 100},
    "contraction_lambdas": [0.25, 1.0, 4.0],
    "delta": 1e-3,
    "steps_slowest": 4,
    "steps_random": 30,
    "lambdas": [0.25, 0.5, 1.0, 2.0, 4.0],
    "chains": 5,
    "generations": 14,
    "burn_in": 2,
    # a refit that hops to a neighbouring near-maximum takes > 50 Newton steps (measured, moons lambda = 1)
    "refit": {"gtol": 1e-10, "max_iter": 200},
    "budget": {"steps": 50, "lr": 1e-3},
    "synthetic_generations": 50,
    "seed": 0,
}
FAST = {**DEFAULT, "data": ["moons"], "n": 200, "transforms": 1, "hidden": [4], "lambdas": [1.0],
        "contraction_lambdas": [1.0],
        "fit": {"adam_steps": 500, "lr": 1e-2, "lbfgs_iter": 500, "newton_iter": 50}, "steps_slowest": 2,
        "steps_random": 3, "chains": 1, "generations": 3, "burn_in": 1, "synthetic_generations": 3,
        "budget": {"steps": 10, "lr": 1e-3}}  # fmt: skip
# The scale check (issue 13): d = 204 (3 transforms, hidden [16]) on n = 1,000 moons. With beta = 1e-2 the round
# objective is not concave at theta* and refits jump far; with beta >= 0.5 theta* = 0 (the flow is the standard
# Gaussian). beta = 0.1 (measured, results/cpu/README.md): min eig(A) 0.052, first Newton steps of norm 0.04-0.06,
# refits land in the quadratic region (2 x excess = ||e||_A^2 to 5 %). Prediction 1 costs seconds (a G_lambda step is
# 2 Newton steps); a chain generation 25 s (lambda = 0.25) to 3 min (lambda = 4) on the shared 2-core CPU. No budget
# chains (budget None) and no purely synthetic chain (synthetic_generations 0): time.
SCALE = {**DEFAULT, "data": ["moons"], "n": 1000, "transforms": 3, "hidden": [16], "beta": 0.1,
         "contraction_lambdas": [0.25, 1.0, 4.0], "steps_slowest": 4, "steps_random": 30,
         "lambdas": [0.25, 1.0, 4.0], "chains": 4, "generations": 10, "burn_in": 2, "budget": None,
         "synthetic_generations": 0}  # fmt: skip


FIT_KEYS = ("n", "data_seed", "transforms", "hidden", "flow_seed", "beta", "fit")
# Not "generations" (nor "burn_in", used only when summarising): a chain's generations 0..t do not depend on how
# many follow (per-round seeds), so a stored shorter run is a prefix that a longer one resumes.
CHAIN_KEYS = (*FIT_KEYS, "lambdas", "chains", "refit", "budget", "synthetic_generations", "seed")
CONTRACTION_KEYS = (*FIT_KEYS, "mass_tol", "contraction_lambdas", "delta", "steps_slowest", "steps_random", "seed")


def _hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


def _commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _data(cfg, name):
    from .data import make_2d

    x = make_2d(name, cfg["n"], seed=cfg["data_seed"])
    return (x - x.mean(0)) / x.std(0)  # standardised: the flow's base is N(0, I)


def _model(cfg):
    from .analysis import FlowLikelihood
    from .smooth_flow import smooth_flow

    flow = smooth_flow(2, cfg["transforms"], tuple(cfg["hidden"]), seed=cfg["flow_seed"])
    return FlowLikelihood(flow, estimate_L=False)


def _load(path: Path, key: str):
    obj = torch.load(path, weights_only=False)
    if obj.get("config") != key:
        raise ValueError(f"{path} belongs to another configuration (hash {obj.get('config')}, expected {key}); "
                         "remove it or use another folder")  # fmt: skip
    return obj


def load_problem(out, name: str, cfg: dict | None = None, *, log=print) -> FlowProblem:
    """The :class:`~.validation.FlowProblem` of data set ``name``: θ* fitted (or loaded from ``fit.pt``)."""
    from .validation import flow_problem

    cfg = DEFAULT if cfg is None else cfg
    key = _hash({k: cfg[k] for k in FIT_KEYS})  # theta* depends on these only
    folder = Path(out) / name
    model, x = _model(cfg), _data(cfg, name)
    path = folder / "fit.pt"
    fit = _load(path, key)["fit"] if path.exists() else None
    if fit is None:
        log(f"[{name}] fitting theta* ...")
    tol = cfg["mass_tol"][name] if isinstance(cfg["mass_tol"], dict) else cfg["mass_tol"]
    problem = flow_problem(model, x, beta=cfg["beta"], mass_tol=tol, fit=fit, **cfg["fit"])
    if fit is None:
        atomic_save({"config": key, "fit": problem.fit}, path)
    return problem


def stored_chains(
    problem, folder, kind: str, lambda_: float, *, generations: int, chains: int, seed: int, key: str,
    budget: dict | None = None, refit: dict | None = None, log=print, compute: bool = True,
) -> np.ndarray | None:  # fmt: skip
    """Chains of ``kind`` ``"refit"`` (prediction 2) or ``"budget"`` (prediction 3) stored in
    ``folder/chains/<kind>_<lambda>.pt`` after every generation, resumed from there; ``key`` identifies the
    configuration (a stored file with another key is an error). Returns (chains, generations+1, d); with
    ``compute=False`` only what is stored, and ``None`` where fewer than ``generations`` are stored."""
    from .validation import budget_chains, refit_chains

    lam = float(lambda_)
    path = Path(folder) / "chains" / f"{kind}_{lam:g}.pt"
    history = None
    if path.exists():
        history = _load(path, key)["thetas"]
        if history.shape[0] != chains:
            raise ValueError(f"{path} holds {history.shape[0]} chains, not {chains}")
        if history.shape[1] - 1 >= generations:
            return history[:, : generations + 1]
        if not compute:
            return None
        log(f"  resuming {kind} lambda={lam:g} at generation {history.shape[1] - 1}")
    elif not compute:
        return None

    def save(t, thetas):
        atomic_save({"config": key, "thetas": np.array(thetas)}, path)

    if kind == "budget":
        return budget_chains(problem, lam, generations, chains, seed, history=history, on_generation=save,
                             **(budget or {}))  # fmt: skip
    if kind != "refit":
        raise ValueError(f"kind must be 'refit' or 'budget', got {kind!r}")
    return refit_chains(problem, lam, generations, chains, seed, history=history, on_generation=save,
                        **({} if math.isinf(lam) else (refit or {})))  # fmt: skip


def run(out="results/cpu/flow_validation", cfg: dict | None = None, *, log=print, compute: bool = True) -> list[dict]:
    """Run (or resume) every part for every data set of ``cfg`` (default :data:`DEFAULT`); returns the summary rows.

    ``compute=False`` summarises what is stored (θ*, A, B and the theorem constants are still formed) and
    leaves ``None`` where a part is missing or incomplete."""
    from ..bounds import bound
    from ..stationary import stationary
    from .validation import contraction, excess_nll, stationary_se, theorem_constants

    cfg = DEFAULT if cfg is None else cfg
    key = _hash({k: cfg[k] for k in CHAIN_KEYS})  # the chains' key; each part is keyed by what it depends on
    out = Path(out)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        stored = json.loads(cfg_path.read_text())
        if stored.get("hash") != _hash({k: v for k, v in cfg.items() if k != "data"}):
            raise ValueError(f"{out} holds a run with another configuration (hash {stored.get('hash')}, now {key})")
    else:
        meta = {
            "hash": _hash({k: v for k, v in cfg.items() if k != "data"}),
            "config": cfg,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "commit": _commit(),
            "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} torch {torch.__version__}",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        atomic_write_text(json.dumps(meta, indent=1), cfg_path)
    rows = []
    for name in cfg["data"]:
        folder = out / name
        problem = load_problem(out, name, cfg, log=log)
        fit = problem.fit
        spec = problem.spectrum
        log(f"[{name}] theta*: |grad|_2 = {fit['grad_norm']:.2e} (relative {fit['grad_rel']:.2e}), "
            f"{spec['n_symmetries']} symmetries, {spec['n_slow']} slow modes, {spec['n_negative']} negative, "
            f"{spec['n_B_null']} null directions of B (pinned by the prior)")  # fmt: skip
        Ar, Br = problem.reduced()
        prob_path = folder / "problem.pt"
        if not prob_path.exists():
            from scipy import linalg

            atomic_save({"config": key, "theta_star": problem.theta_star, "A": problem.A, "B": problem.B,
                         "B_hess": problem.B_hess, "gbar": problem.gbar, "quadrature": spec["quadrature"],
                         "eig_A": spec["eig_A"], "gammas": linalg.eigh(Br, Ar, eigvals_only=True),
                         "n_symmetries": spec["n_symmetries"], "n_slow": spec["n_slow"]}, prob_path)  # fmt: skip
        # prediction 1
        c_path = folder / "contraction.json"
        ckey = _hash({k: cfg[k] for k in CONTRACTION_KEYS})
        contr = json.loads(c_path.read_text()) if c_path.exists() else {"config": ckey, "runs": {}}
        if contr["config"] != ckey:
            raise ValueError(f"{c_path} belongs to another configuration")
        rng = np.random.default_rng(cfg["seed"])
        rand = problem.spectrum["U"] @ rng.standard_normal(problem.spectrum["U"].shape[1])
        starts = {"slowest": (problem.slowest(), cfg["steps_slowest"]), "random": (rand / np.linalg.norm(rand),
                                                                                     cfg["steps_random"])}  # fmt: skip
        for lam in cfg["contraction_lambdas"]:
            for label, (v, steps) in starts.items():
                k = f"{lam:g}/{label}"
                if k not in contr["runs"] and compute:
                    log(f"[{name}] prediction 1: lambda={lam:g}, start {label}")
                    contr["runs"][k] = contraction(problem, lam, cfg["delta"] * v, steps)
                    atomic_write_text(json.dumps(contr, indent=1), c_path)
        # Theorem 1 / 2 constants
        t_path = folder / "theorem.json"
        if t_path.exists():
            tc = json.loads(t_path.read_text())
        else:
            log(f"[{name}] alpha, eps, L for Theorems 1 and 2")
            tc = theorem_constants(problem, seed=cfg["seed"])
            atomic_write_text(json.dumps(tc, indent=1), t_path)
        alpha, eps, L = tc["alpha"], tc["eps"], tc["L_lower"]
        # predictions 2 and 3
        for lam in cfg["lambdas"]:
            law = stationary(Ar, Br, lam, problem.n)
            obs = {}
            for kind in ("refit", "budget"):
                if kind == "budget" and not cfg["budget"]:  # no budget chains in this configuration
                    obs[kind] = (None, None, None)
                    continue
                log(f"[{name}] {kind} chains: lambda={lam:g}")
                th = stored_chains(problem, folder, kind, lam, generations=cfg["generations"], chains=cfg["chains"],
                                   seed=cfg["seed"], key=key, budget=cfg["budget"], refit=cfg.get("refit"),
                                   log=log, compute=compute)  # fmt: skip
                if th is None:
                    obs[kind] = (None, None, None)
                    continue
                ex = excess_nll(problem, th[:, cfg["burn_in"] + 1 :])
                E = th[:, cfg["burn_in"] + 1 :] - problem.theta_star
                q = np.einsum("...i,ij,...j->...", E, problem.A, E)
                # outside the quadratic region 2 x excess and ||e||_A^2 part (a chain that wandered along a
                # curved, nearly flat ridge of D_beta: ||e||_A^2 >> 2 x excess); fraction of such states
                far = np.abs(2 * ex - q) > 0.5 * np.maximum(q, 1e-300)
                obs[kind] = (float(ex.mean()), float(q.mean()), float(far.mean()))
            count = cfg["chains"] * (cfg["generations"] - cfg["burn_in"])
            # first-order mean over the same window, from theta_0 = theta*: 1/2 sum_i c_i (1 - d_i^(2t))
            g = np.clip(law.gammas, 0, None)
            d_i, c_i = lam * g / (1 + lam * g), lam**2 * g / (law.k * (1 + 2 * lam * g))
            ts = np.arange(cfg["burn_in"] + 1, cfg["generations"] + 1)
            window = float(np.mean([0.5 * np.sum(c_i * (1 - d_i ** (2 * t))) for t in ts]))
            se = stationary_se(Ar, Br, lam, problem.n, count)
            c1 = contr["runs"].get(f"{lam:g}/random")
            c0 = contr["runs"].get(f"{lam:g}/slowest")
            rows.append({
                "data": name, "lambda": lam, "n": problem.n, "d": int(problem.theta_star.size),
                "grad_norm": fit["grad_norm"], "grad_rel": fit["grad_rel"],
                "rate_exact": law.rate, "rate_crn": c1["rate_crn"] if c1 else None,
                "observed_ratio": c1["ratio"][-1] if c1 else None,
                "observed_ratio_slowest": c0["ratio"][-1] if c0 else None,
                "linear_ratio": c1["ratio_linear"][-1] if c1 and "ratio_linear" in c1 else None,
                "contraction_steps": len(c1["ratio"]) if c1 else None,
                "excess_pred": law.excess_loss, "excess_pred_window": window, "excess_obs": obs["refit"][0],
                "excess_se": se,
                "A_norm_pred": 2 * law.excess_loss, "A_norm_obs": obs["refit"][1],
                "nonquadratic_frac": obs["refit"][2],
                "excess_obs_budget": obs["budget"][0], "A_norm_obs_budget": obs["budget"][1],
                "alpha": alpha, "eps": eps, "L_lower": L,
                "theorem1_rate": _finite(bound(lam, eps, alpha, L)),
                "theorem2_excess": _theorem2_excess(Ar, Br, lam, problem.n, eps, alpha, L),
            })  # fmt: skip
        # purely synthetic chain, for the samples panel (none when synthetic_generations is 0)
        if cfg["synthetic_generations"]:
            stored_chains(problem, folder, "refit", math.inf, generations=cfg["synthetic_generations"], chains=1,
                          seed=cfg["seed"], key=key, log=log, compute=compute)  # fmt: skip
    atomic_write_text(json.dumps(rows, indent=1), out / "summary.json")
    return rows


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _theorem2_excess(A, B, lam, n, eps, alpha, L) -> float | None:
    r"""Theorem 2's radius in excess-NLL units, :math:`\tfrac12\lambda_{max}(A)\,(e/(1-\rho_{paper}))^2`, with
    the one-step error :math:`e = \sqrt{\operatorname{tr} Q}` of the first-order law (RMS, not a
    high-probability constant); ``None`` where :math:`\rho_{paper} \ge 1` (no guarantee)."""
    from ..bounds import finite_sample_bound
    from ..schemes import synthetic_count

    k = synthetic_count(n, lam)
    M = np.linalg.inv(A + lam * B)
    e = math.sqrt(max(float(np.trace(lam**2 / k * M @ B @ M)), 0.0))
    r = float(finite_sample_bound(math.inf, lam, eps, e, 0.0, alpha, L))
    return _finite(0.5 * float(np.linalg.eigvalsh(A)[-1]) * r**2)
