"""Diffusion and flow-matching models at their loss minimum (issue 22, 2-D part; docs/theory.md §13).

For each model (``ddpm``: :class:`~stability.numerical.generative.MLPDDPM`, ``cfm``:
:class:`~stability.numerical.generative.MLPFlowMatching`) and data set (two moons, eight Gaussians,
n points standardised as in ``results/cpu/flow_validation``):

1. ``fit``: θ̂ = argmin R_n (Adam warm start, then the library's modified Newton to |∇|∞ ≤ 1e-10;
   the prior (β/2)‖θ‖² is part of every point's loss); A ≻ 0 checked (its smallest eigenvalue stored);
2. ``analysis`` per λ: ``analyze_loss`` (θ*_λ by continuation in λ from θ̂; self_consistency ‖H+M‖/‖H‖,
   bias_loss, rate_exact; A need not be positive definite at θ*_λ, A + λH must: docs/theory.md §13). Where
   the branch of fixed points folds before λ the stored error says so (J's spectral radius near 1);
3. ``operator`` per λ (prediction 1): the expected retraining operator with common random numbers
   (the analysis bank; the sampler's output cached per step, since θ' is fixed during a step),
   θ_{t+1} = argmin R_n(θ) + λ g(θ, θ_t), from θ*_λ + δ·(slowest eigenvector of J) and from
   θ*_λ + δ·(random direction): per-step ratios ‖e_{t+1}‖/‖e_t‖ against rate_exact and against the
   linearised ratio ‖J^{t+1}e_0‖/‖J^t e_0‖;
4. ``chains`` per λ (prediction 2): ``retrain_loss_chains`` (refits to |∇|∞ ≤ 1e-10) against the
   first-order stationary law: excess real loss over θ̂, observed (bias_loss + mean of
   R_n(θ_t) − R_n(θ*_λ) after the burn-in) against bias_loss + ½tr(AC), with :func:`diagnose` of the
   chains' own states;
5. ``budget`` per λ (prediction 3): the paper's fixed budget of Adam steps per round;
6. ``steps`` (prediction 4): bias and rate against the sampler's step count (T or K);
7. ``diagnose`` per λ: rerun the chains (same seeds) and store :func:`diagnose` for rows whose chains were
   stored before the chains stage recorded it.

``--beta B`` runs a stronger prior as the variant ``{model}_{data}_beta{B}`` (extra rows with their β).

Every stage is stored as JSON under ``--out`` (default ``results/cpu/diffusion_validation``) keyed by
model, data and λ; a rerun skips stored stages (delete a file to recompute it). ``summary.json``
collects the issue's keys (null where not computed). Run one configuration at a time with
``--model ddpm --data moons --stages fit,analysis`` (single thread: ``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

CONFIG = {
    "n": 500,
    "data_seed": 1,
    "seed": 0,
    "n_noise": 2048,
    "adam": {"steps": 1500, "lr": 0.02},
    "models": {
        "ddpm": {"hidden": 4, "T": 20, "draws": 8, "beta": 0.01},
        "cfm": {"hidden": 4, "K": 10, "draws": 8, "beta": 0.01, "method": "heun"},
    },
    "lambdas": [0.25, 0.5, 1.0, 2.0, 4.0],
    "operator": {"delta": 1e-3, "steps_slowest": 4, "steps_random": 8, "gtol": 1e-12},
    "chains": {"chains": 5, "generations": 14, "burn_in": 4},
    "budget": {"steps": 50, "lr": 1e-3},
    "step_counts": {"counts": [5, 10, 20, 50], "lambdas": [0.25, 1.0]},
}
KEYS = (
    "model", "data", "lambda", "n", "d", "grad_rel", "self_consistency", "bias_loss", "rate_exact", "observed_ratio",
    "observed_ratio_slowest", "linear_ratio", "excess_pred", "excess_obs", "excess_se", "excess_obs_budget",
)  # fmt: skip


def _model(kind: str, steps: int | None = None, beta: float | None = None):
    from stability.numerical.generative import MLPDDPM, MLPFlowMatching

    opts = dict(CONFIG["models"][kind])
    if beta is not None:
        opts["beta"] = beta
    if steps is not None:
        opts["T" if kind == "ddpm" else "K"] = steps
    return MLPDDPM(**opts) if kind == "ddpm" else MLPFlowMatching(**opts)


def _data(name: str) -> np.ndarray:
    from stability.experiments.data import make_2d

    x = make_2d(name, CONFIG["n"], seed=CONFIG["data_seed"])
    return (x - x.mean(0)) / x.std(0)


def _prepared(model, x):
    """The real points with their draws and the analysis bank, exactly as ``analyze_loss(seed=...)`` makes them."""
    from stability.numerical.expectations import as_generator

    gen = as_generator(CONFIG["seed"])
    xp = model.prepare(torch.as_tensor(x, dtype=torch.float64), gen)
    return xp, model.bank(CONFIG["n_noise"], gen)


def _save(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # the chains' trajectories (diagnosis "theta") on one line: a stage file stays small
    has_theta = "theta" in obj or "theta" in (obj.get("diagnosis") or {}) if isinstance(obj, dict) else False
    path.write_text(json.dumps(obj, separators=(",", ":")) if has_theta else json.dumps(obj, indent=1))


def stage_fit(model, x, path: Path, log) -> dict:
    from stability.numerical.optim import newton

    xp, _ = _prepared(model, x)
    t0 = time.perf_counter()
    th = torch.tensor(model.theta0, requires_grad=True)
    opt = torch.optim.Adam([th], lr=CONFIG["adam"]["lr"])
    for _ in range(CONFIG["adam"]["steps"]):
        opt.zero_grad()
        model.loss(th, xp).mean().backward()
        opt.step()
    t_adam = time.perf_counter() - t0
    fit = newton(lambda t: -model.loss(t, xp).mean(), th.detach().clone(), 1e-10, 200)
    theta = torch.as_tensor(fit.theta)
    A = torch.func.hessian(lambda t: model.loss(t, xp).mean())(theta).numpy()
    ev = np.linalg.eigvalsh((A + A.T) / 2)
    per = torch.func.vmap(torch.func.grad(lambda t, p: model.loss(t, p[None]).sum()), in_dims=(None, 0))(theta, xp)
    g = per.mean(0)
    grad_rel = float(g.norm() / per.norm(dim=1).pow(2).mean().sqrt())
    out = {
        "theta_hat": fit.theta.tolist(), "converged": bool(fit.converged), "newton_iterations": int(fit.iterations),
        "grad_inf": float(fit.grad_norm), "grad_rel": grad_rel, "R_n": float(model.loss(theta, xp).mean()),
        "A_eig_min": float(ev[0]), "A_eig_max": float(ev[-1]), "d": int(model.n_params),
        "seconds_adam": t_adam, "seconds": time.perf_counter() - t0, "model": model.name,
    }  # fmt: skip
    log(f"  fit: converged {fit.converged} |grad|inf {fit.grad_norm:.2e} rel {grad_rel:.2e} eig(A) "
        f"[{ev[0]:.3g}, {ev[-1]:.3g}] in {out['seconds']:.1f} s")  # fmt: skip
    _save(path, out)
    return out


def stage_analysis(model, x, lam, path: Path, log) -> dict:
    from stability.errors import ConvergenceError
    from stability.numerical.losses import analyze_loss

    t0 = time.perf_counter()
    try:
        r = analyze_loss(model, x, lam, n_noise=CONFIG["n_noise"], seed=CONFIG["seed"])
    except (ConvergenceError, ValueError) as err:  # no fixed point found from theta_hat, or A not > 0 there
        out = {"lambda": lam, "error": str(err), "seconds": time.perf_counter() - t0}
        log(f"  lambda {lam:g}: {err}")
        _save(path, out)
        return out
    law = r.stationary(CONFIG["n"])
    out = {
        "lambda": lam, "theta_star": r.theta_star.tolist(), "self_consistency": r.self_consistency,
        "bias_loss": r.bias_loss, "rate_exact": r.rate_exact, "half_tr_AC": float(law.excess_loss),
        "theta_star_se_max": float(np.max(r.theta_star_se)), "A_eig_min": float(np.linalg.eigvalsh(r.A)[0]),
        "H_eig_min": float(np.linalg.eigvalsh(r.H)[0]), "details": r.details, "seconds": time.perf_counter() - t0,
        "jacobian": r.jacobian.tolist(),
    }  # fmt: skip
    log(f"  lambda {lam:g}: self-cons {r.self_consistency:.3g} bias {r.bias_loss:.3g} rate {r.rate_exact:.4f} "
        f"(l/(1+l) {lam / (1 + lam):.4f}) 1/2 tr AC {law.excess_loss:.3g} in {out['seconds']:.1f} s")  # fmt: skip
    _save(path, out)
    return out


def stage_operator(model, x, lam, an: dict, path: Path, log) -> dict:
    """Prediction 1: the expected operator with common random numbers (module docstring)."""
    from stability.numerical.optim import newton

    cfg = CONFIG["operator"]
    xp, z = _prepared(model, x)
    ts = np.asarray(an["theta_star"])
    J = np.asarray(an["jacobian"])
    w, V = np.linalg.eig(J)
    v = np.real(V[:, np.argmax(np.abs(w))])
    rng = np.random.default_rng(CONFIG["seed"])
    t0 = time.perf_counter()
    out = {"lambda": lam}
    for start, steps, e0 in (
        ("slowest", cfg["steps_slowest"], v),
        ("random", cfg["steps_random"], rng.standard_normal(ts.size)),
    ):
        e0 = cfg["delta"] * e0 / np.linalg.norm(e0)
        th = ts + e0
        ratios, lin, e_lin = [], [], e0
        for _ in range(steps):
            with torch.no_grad():
                y = model.sample(torch.as_tensor(th), z)  # cached for the whole step: theta' is fixed

            def obj(t, y=y):
                return -(model.loss(t, xp).mean() + lam * model.loss(t, y).mean()) / (1 + lam)

            fit = newton(obj, torch.as_tensor(th), cfg["gtol"], 50)
            new = fit.theta
            ratios.append(float(np.linalg.norm(new - ts) / np.linalg.norm(th - ts)))
            e_next = J @ e_lin
            lin.append(float(np.linalg.norm(e_next) / np.linalg.norm(e_lin)))
            e_lin, th = e_next, new
        out[start] = {"ratio": ratios, "linear_ratio": lin}
        log(f"  operator {lam:g} {start}: ratio {ratios[-1]:.5f} linear {lin[-1]:.5f} rate {an['rate_exact']:.5f}")
    out["seconds"] = time.perf_counter() - t0
    _save(path, out)
    return out


def _refit_chains(model, x, lam):
    """The refit chains of the chains and diagnose stages (the same seeds, so the same chains)."""
    from stability.numerical.chains import retrain_loss_chains

    cfg = CONFIG["chains"]
    return retrain_loss_chains(
        model, x, lam, generations=cfg["generations"], chains=cfg["chains"], seed=CONFIG["seed"],
        n_noise=CONFIG["n_noise"], allow_failure=True,
    )  # fmt: skip


def stage_chains(model, x, lam, an: dict, path: Path, log) -> dict:
    """Prediction 2: refit chains against the first-order stationary law (module docstring)."""
    cfg = CONFIG["chains"]
    t0 = time.perf_counter()
    res = _refit_chains(model, x, lam)
    obs = res.observed(cfg["burn_in"])
    # the split of the observed excess about theta*: grad R_n(theta*) . mean(e) (not 0 when the loss is not
    # self-consistent: theta* is not the minimiser of R_n) plus the quadratic part mean(1/2 e'Ae)
    xp, _ = _prepared(model, x)
    ts = torch.as_tensor(res.theta_star)
    R = lambda t: model.loss(t, xp).mean()  # noqa: E731
    gR, A = torch.func.grad(R)(ts).numpy(), torch.func.hessian(R)(ts).numpy()
    e = res.theta[cfg["burn_in"] :] - res.theta_star
    lin_term = float(gR @ e.mean((0, 1)))
    quad_term = float(0.5 * np.einsum("tci,ij,tcj->", e, A, e) / (e.shape[0] * e.shape[1]))
    diag = diagnose(model, xp, res, cfg["burn_in"], lam)
    out = {
        "lambda": lam, "excess_obs_theta_star": obs.excess_loss, "excess_se": obs.excess_loss_se,
        "half_tr_AC": an["half_tr_AC"], "bias_loss": an["bias_loss"],
        "excess_pred": an["bias_loss"] + an["half_tr_AC"], "excess_obs": an["bias_loss"] + obs.excess_loss,
        "all_converged": bool(res.converged.all()), "max_grad": float(np.max(res.grad_norm)),
        "mean_offset_norm": float(np.linalg.norm(e.mean((0, 1)))), "grad_term": lin_term, "quad_term": quad_term,
        "theta_star_norm": float(np.linalg.norm(res.theta_star)),
        "seconds": time.perf_counter() - t0, "diagnosis": diag,
    }  # fmt: skip
    log(f"  chains lambda {lam:g}: excess over theta* obs {obs.excess_loss:.3g} +- {obs.excess_loss_se:.2g}, "
        f"1/2 tr AC {an['half_tr_AC']:.3g} (grad term {lin_term:.3g}, quadratic {quad_term:.3g}); "
        f"converged {out['all_converged']} in {out['seconds']:.0f} s")  # fmt: skip
    _save(path, out)
    return out


def diagnose(model, xp, res, burn_in: int, lam: float) -> dict:
    """Where the first-order law can fail: measurements on the chains' own states (README, finding 3).

    With e = theta_t - theta*_lambda after the burn-in (chains c, generations t):

    - the excess real loss to second order about theta*, ``grad_term`` + ``quad_term`` =
      grad R_n(theta*) . mean(e) + mean(1/2 e'Ae), each with its standard error over the chains (the
      chains are independent; generations within a chain are not): the first-order law sets mean(e) = 0
      and predicts E[1/2 e'Ae] = 1/2 tr(AC); when the sum matches the observed excess but the grad term
      does not vanish, the gap to the prediction is the chains' mean offset (a second-order effect the
      first-order law leaves out), not a failure of the quadratic model;
    - along A's slowest eigenvector v (smallest eigenvalue at theta*): the chains' rms coordinate
      sqrt(mean((v.e)^2)) against the law's sqrt(v'Cv), and the quadratic regime's size along v, the
      smallest |s| at which R_n(theta* + s v) - R_n(theta*) departs from its quadratic model
      s grad.v + s^2 v'Av/2 by more than half the quadratic term (scanned on a log grid): when the chains
      go well beyond it, the second-order expansion does not describe them;
    - ``quad_model_excess``: the quadratic model averaged over the chains' states against the exact
      R_n(theta_t) - R_n(theta*) (``excess_exact``); ``quad_term`` split into the chains' spread about their
      own mean, ``quad_cov_term`` = mean(1/2 (e - mean e)'A(e - mean e)) (the part the law's 1/2 tr(AC)
      predicts), and ``quad_mean_term`` = 1/2 mean(e)'A mean(e); ``theta``: the chains (generations, chains, d).
    """
    from stability.stationary import loss_stationary

    theta, theta_star = res.theta, res.theta_star
    ts = torch.as_tensor(theta_star)
    R = lambda t: model.loss(t, xp).mean()  # noqa: E731
    gR, A = torch.func.grad(R)(ts).numpy(), torch.func.hessian(R)(ts).numpy()
    A = (A + A.T) / 2
    e = np.asarray(theta)[burn_in:] - theta_star  # (T, C, d)
    lin_c = (e @ gR).mean(0)  # per chain
    quad_c = 0.5 * np.einsum("tci,ij,tcj->tc", e, A, e).mean(0)
    eb = e.mean((0, 1))
    ec = e - eb
    quad_cov = float(0.5 * np.einsum("tci,ij,tcj->", ec, A, ec) / (e.shape[0] * e.shape[1]))
    with torch.no_grad():
        R_star = float(R(ts))
        exact = np.array(
            [[float(R(torch.as_tensor(th))) - R_star for th in row] for row in np.asarray(theta)[burn_in:]]
        )
    C = len(lin_c)
    w, V = np.linalg.eigh(A)
    v = V[:, 0]
    rep = res.report
    law = loss_stationary(rep.A, rep.H, lam, CONFIG["n"], S=rep.S, M=rep.M)
    proj = e @ v
    R_line = []
    with torch.no_grad():
        grid = np.geomspace(1e-3, 3.0, 40)
        for sv in grid:
            q = sv * float(gR @ v) + 0.5 * sv**2 * float(v @ A @ v)
            r = float(R(ts + sv * torch.as_tensor(v))) - R_star
            qm = -sv * float(gR @ v) + 0.5 * sv**2 * float(v @ A @ v)
            rm = float(R(ts - sv * torch.as_tensor(v))) - R_star
            R_line.append((sv, q, r, qm, rm))
    size = next(
        (sv for sv, q, r, qm, rm in R_line if abs(r - q) > 0.5 * abs(0.5 * sv**2 * w[0]) + 1e-300
         or abs(rm - qm) > 0.5 * abs(0.5 * sv**2 * w[0]) + 1e-300),
        float("inf"),
    )  # fmt: skip
    return {
        "grad_term": float(lin_c.mean()), "grad_term_se": float(lin_c.std(ddof=1) / np.sqrt(C)),
        "quad_term": float(quad_c.mean()), "quad_term_se": float(quad_c.std(ddof=1) / np.sqrt(C)),
        "quad_model_excess": float(lin_c.mean() + quad_c.mean()), "excess_exact": float(exact.mean()),
        "quad_cov_term": quad_cov, "quad_mean_term": float(0.5 * eb @ A @ eb),
        "excess_exact_se": float(exact.mean(0).std(ddof=1) / np.sqrt(C)),
        "mean_offset": e.mean((0, 1)).tolist(), "mean_offset_norm": float(np.linalg.norm(e.mean((0, 1)))),
        "A_eig_min": float(w[0]), "A_eig_max": float(w[-1]), "slow_rms": float(np.sqrt((proj**2).mean())),
        "slow_mean": float(proj.mean()), "quadratic_regime_size": float(size),
        "slow_sd_law": float(np.sqrt(v @ law.cov @ v)), "half_tr_AC": float(law.excess_loss),
        "theta": np.asarray(theta).tolist(),
    }  # fmt: skip


def stage_diagnose(model, x, lam, an: dict, path: Path, log) -> dict:
    """Rerun the refit chains (same seeds, so the same chains as ``chains``) and store :func:`diagnose`,
    plus the first-order law's variance along A's slowest eigenvector (for rows stored before the
    chains stage recorded the diagnosis)."""
    cfg = CONFIG["chains"]
    t0 = time.perf_counter()
    res = _refit_chains(model, x, lam)
    xp, _ = _prepared(model, x)
    out = diagnose(model, xp, res, cfg["burn_in"], lam)
    out.update(
        {"lambda": lam, "excess_obs_theta_star": float(res.observed(cfg["burn_in"]).excess_loss),
         "seconds": time.perf_counter() - t0}
    )  # fmt: skip
    log(f"  diagnose {lam:g}: excess exact {out['excess_exact']:.3g} quad model {out['quad_model_excess']:.3g} "
        f"(grad {out['grad_term']:.3g} +- {out['grad_term_se']:.2g}, quad {out['quad_term']:.3g} +- "
        f"{out['quad_term_se']:.2g}; 1/2 tr AC {out['half_tr_AC']:.3g}); slow rms {out['slow_rms']:.3g} vs law "
        f"{out['slow_sd_law']:.3g}, quadratic regime {out['quadratic_regime_size']:.3g}")  # fmt: skip
    _save(path, out)
    return out


def stage_budget(model, x, lam, an: dict, path: Path, log) -> dict:
    """Prediction 3, the paper's protocol: each round ``steps`` full-batch Adam steps (fresh state) on the
    round's mixed objective from the current weights instead of a refit; same chains, generations, burn-in.
    Round t of chain c draws its synthetic points (with fresh attached draws) from the seed (seed, c, t)."""
    from stability.schemes import synthetic_count

    cfg, bud = CONFIG["chains"], CONFIG["budget"]
    xp, _ = _prepared(model, x)
    k = synthetic_count(CONFIG["n"], lam)
    ts = np.asarray(an["theta_star"])
    G, C = cfg["generations"], cfg["chains"]
    thetas = np.empty((G + 1, C, ts.size))
    thetas[0] = ts
    t0 = time.perf_counter()
    for t in range(G):
        for c in range(C):
            gen = torch.Generator().manual_seed(
                int(np.random.SeedSequence([CONFIG["seed"], c, t]).generate_state(1)[0])
            )
            with torch.no_grad():
                y = model.sample(torch.as_tensor(thetas[t, c]), model.noise(k, gen))
            p = torch.tensor(thetas[t, c], requires_grad=True)
            opt = torch.optim.Adam([p], lr=bud["lr"])
            for _ in range(bud["steps"]):
                opt.zero_grad()
                ((model.loss(p, xp).sum() + model.loss(p, y).sum()) / (xp.shape[0] + k)).backward()
                opt.step()
            thetas[t + 1, c] = p.detach().numpy()
    with torch.no_grad():
        R = np.array([[float(model.loss(torch.as_tensor(th), xp).mean()) for th in row] for row in thetas])
        R_star = float(model.loss(torch.as_tensor(ts), xp).mean())
    per_chain = (R[cfg["burn_in"] :] - R_star).mean(0)
    out = {
        "lambda": lam, "excess_obs_theta_star": float(per_chain.mean()),
        "excess_se": float(per_chain.std(ddof=1) / np.sqrt(C)),
        "excess_obs_budget": an["bias_loss"] + float(per_chain.mean()), "seconds": time.perf_counter() - t0,
        **bud,
    }  # fmt: skip
    log(f"  budget lambda {lam:g}: excess over theta* {per_chain.mean():.3g} +- {out['excess_se']:.2g} "
        f"(1/2 tr AC {an['half_tr_AC']:.3g}) in {out['seconds']:.0f} s")  # fmt: skip
    _save(path, out)
    return out


def stage_steps(kind, x, base: Path, log) -> None:
    """Prediction 4: the sampler's step count (T for the DDPM, whose loss then changes too and theta_hat is
    refitted; K for the CFM, whose loss does not: theta_hat is the same) against bias and rate."""
    sc = CONFIG["step_counts"]
    for steps in sc["counts"]:
        model = _model(kind, steps)
        fpath = base / f"steps_{steps}_fit.json"
        if kind == "ddpm":
            fit = _load(fpath) or stage_fit(model, x, fpath, log)
        else:
            fit = _load(base / "fit.json")
        model.theta0 = np.asarray(fit["theta_hat"])
        for lam in sc["lambdas"]:
            path = base / f"steps_{steps}_{lam:g}.json"
            if not path.exists():
                log(f"  steps {steps}:")
                stage_analysis(model, x, lam, path, log)


def _load(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _variants(out: Path, kind: str, name: str) -> list[tuple[Path, float]]:
    """The study's folder for (kind, name) and its stronger-prior variants ``{kind}_{name}_beta{b}``."""
    found = [(out / f"{kind}_{name}", float(CONFIG["models"][kind]["beta"]))]
    for path in sorted(out.glob(f"{kind}_{name}_beta*")):
        found.append((path, float(path.name.rsplit("_beta", 1)[1])))
    return found


def checks(row: dict) -> dict:
    """The issue's Done-when tests of one row: slowest-mode ratio within 3 % of rate_exact, random-start
    ratio within 3 % of the linearised one, excess within 4 SE + 5 % of the prediction (None: not computed)."""

    def rel(a, b):
        return None if a is None or b is None else abs(a / b - 1.0) <= 0.03

    ex = None
    if row["excess_obs"] is not None:
        ex = abs(row["excess_obs"] - row["excess_pred"]) <= 4 * row["excess_se"] + 0.05 * abs(row["excess_pred"])
    return {
        "ok_slowest": rel(row["observed_ratio_slowest"], row["rate_exact"]),
        "ok_random": rel(row["observed_ratio"], row["linear_ratio"]),
        "ok_excess": ex,
    }


DIAGNOSIS = ("grad_term", "grad_term_se", "quad_term", "quad_term_se", "quad_cov_term", "quad_mean_term",
             "quad_model_excess", "excess_exact", "excess_exact_se", "half_tr_AC", "slow_rms", "slow_sd_law",
             "quadratic_regime_size", "mean_offset_norm", "A_eig_min")  # fmt: skip


def summary(out: Path) -> list[dict]:
    """Collect the stored stages into ``summary.json`` (the issue's keys, plus ``beta``, ``error`` where the
    fixed point was not found, the Done-when ``checks`` and the chains' ``diagnosis``), ``steps.json`` and
    ``table.md``."""
    rows = []
    for kind in CONFIG["models"]:
        for name in ("moons", "eight_gaussians"):
            for base, beta in _variants(out, kind, name):
                fit = _load(base / "fit.json")
                if fit is None:
                    continue
                for lam in CONFIG["lambdas"]:
                    an = _load(base / f"analysis_{lam:g}.json")
                    if an is None and beta != CONFIG["models"][kind]["beta"]:
                        continue  # a variant holds only the rows computed for it
                    op = _load(base / f"operator_{lam:g}.json")
                    ch = _load(base / f"chains_{lam:g}.json")
                    bu = _load(base / f"budget_{lam:g}.json")
                    dg = _load(base / f"diagnose_{lam:g}.json") or (ch or {}).get("diagnosis")
                    row = dict.fromkeys(KEYS)
                    row.update(
                        model=kind, data=name, **{"lambda": lam}, n=CONFIG["n"], d=fit["d"],
                        grad_rel=fit["grad_rel"], beta=beta, error=(an or {}).get("error"),
                    )  # fmt: skip
                    if an and "error" not in an:
                        row.update({k: an[k] for k in ("self_consistency", "bias_loss", "rate_exact")})
                        row["A_eig_min"] = an["A_eig_min"]
                    if op:
                        row.update(
                            observed_ratio=op["random"]["ratio"][-1], linear_ratio=op["random"]["linear_ratio"][-1],
                            observed_ratio_slowest=op["slowest"]["ratio"][-1],
                        )  # fmt: skip
                    if ch:
                        row.update({k: ch[k] for k in ("excess_pred", "excess_obs", "excess_se")})
                    if bu:
                        row["excess_obs_budget"] = bu["excess_obs_budget"]
                    row["checks"] = checks(row)
                    row["diagnosis"] = {k: dg.get(k) for k in DIAGNOSIS} if dg else None
                    rows.append(row)
    _save(out / "summary.json", rows)
    steps = []
    for kind in CONFIG["models"]:
        for name in ("moons", "eight_gaussians"):
            for count in CONFIG["step_counts"]["counts"]:
                for lam in CONFIG["step_counts"]["lambdas"]:
                    an = _load(out / f"{kind}_{name}" / f"steps_{count}_{lam:g}.json")
                    if an is None:
                        continue
                    row = {"model": kind, "data": name, "steps": count, "lambda": lam, "error": an.get("error")}
                    row.update({k: an.get(k) for k in ("self_consistency", "bias_loss", "rate_exact", "half_tr_AC")})
                    steps.append(row)
    _save(out / "steps.json", steps)
    text = table(rows) + "\n\nThe sampler's step count (T for ddpm, K for cfm):\n\n"
    text += "| model | data | steps | lambda | self-cons | bias_loss | rate_exact |\n|" + "---|" * 7 + "\n"
    for r in steps:
        if r["error"]:
            text += f"| {r['model']} | {r['data']} | {r['steps']} | {r['lambda']:g} | not found | | |\n"
        else:
            text += (f"| {r['model']} | {r['data']} | {r['steps']} | {r['lambda']:g} | {r['self_consistency']:.3f} | "
                     f"{r['bias_loss']:.3g} | {r['rate_exact']:.4f} |\n")  # fmt: skip
    (out / "table.md").write_text(text)
    return rows


def table(rows: list[dict]) -> str:
    """The measured rows as a markdown table (excess values x 1e3; '-' where not computed)."""

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    def k(v):
        return "-" if v is None else f"{1e3 * v:.3f}"

    head = (
        "| model | data | lambda | beta | self-cons | bias_loss | rate_exact | ratio slowest | ratio random | linear "
        "| excess pred (1e-3) | excess obs +- se (1e-3) | budget (1e-3) |\n|" + "---|" * 13 + "\n"
    )
    body = "".join(
        f"| {r['model']} | {r['data']} | {r['lambda']:g} | {r.get('beta', CONFIG['models'][r['model']]['beta']):g} | "
        f"{f(r['self_consistency'], '.3f')} | "
        f"{f(r['bias_loss'], '.3g')} | {f(r['rate_exact'], '.5f')} | {f(r['observed_ratio_slowest'], '.5f')} | "
        f"{f(r['observed_ratio'], '.5f')} | {f(r['linear_ratio'], '.5f')} | {k(r['excess_pred'])} | "
        f"{k(r['excess_obs'])} +- {k(r['excess_se'])} | {k(r['excess_obs_budget'])} |\n"
        for r in rows
    )
    return head + body


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results/cpu/diffusion_validation")
    p.add_argument("--model", choices=list(CONFIG["models"]), action="append")
    p.add_argument("--data", choices=["moons", "eight_gaussians"], action="append")
    p.add_argument("--lambdas", type=float, nargs="*")
    p.add_argument("--stages", default="fit,analysis")
    p.add_argument(
        "--beta",
        type=float,
        help="a stronger prior than the configuration's: stored as the variant {model}_{data}_beta{b}",
    )
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(a.out)
    _save(out / "config.json", CONFIG)
    stages = a.stages.split(",")
    for kind in a.model or list(CONFIG["models"]):
        for name in a.data or ["moons", "eight_gaussians"]:
            print(f"[{kind} / {name}]" + ("" if a.beta is None else f" beta {a.beta:g}"), flush=True)
            model, x, base = _model(kind, beta=a.beta), _data(name), out / f"{kind}_{name}"
            if a.beta is not None:
                base = out / f"{kind}_{name}_beta{a.beta:g}"
            fit = _load(base / "fit.json") or stage_fit(model, x, base / "fit.json", print)
            if not (fit["converged"] and fit["A_eig_min"] > 0):
                print("  no true minimum: skipped")
                continue
            model.theta0 = np.asarray(fit["theta_hat"])
            for lam in a.lambdas or CONFIG["lambdas"]:
                an = _load(base / f"analysis_{lam:g}.json")
                if an is None and "analysis" in stages:
                    an = stage_analysis(model, x, lam, base / f"analysis_{lam:g}.json", print)
                if an is None or "error" in an:
                    continue
                if "operator" in stages and not (base / f"operator_{lam:g}.json").exists():
                    stage_operator(model, x, lam, an, base / f"operator_{lam:g}.json", print)
                if "chains" in stages and not (base / f"chains_{lam:g}.json").exists():
                    stage_chains(model, x, lam, an, base / f"chains_{lam:g}.json", print)
                if "budget" in stages and not (base / f"budget_{lam:g}.json").exists():
                    stage_budget(model, x, lam, an, base / f"budget_{lam:g}.json", print)
                if "diagnose" in stages and not (base / f"diagnose_{lam:g}.json").exists():
                    stage_diagnose(model, x, lam, an, base / f"diagnose_{lam:g}.json", print)
            if "steps" in stages:
                stage_steps(kind, x, base, print)
    summary(out)


if __name__ == "__main__":
    main()
