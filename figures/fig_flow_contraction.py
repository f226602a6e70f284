"""Predicted local contraction (stability.analyze at the pretrained flow) against the observed one.

A small neural spline flow (zuko NSF, 1 transform, conditioner hidden [8, 8], 4 bins: 198 free
parameters) is pretrained on two moons (n = 500) and retrained by the paper's protocol
(``stability.experiments.retrain``, fixed-real, lambda = 0.5 and 1, 12 generations of 200 Adam steps).
Left: ||theta_t - theta_inf|| (free parameters) with theta_inf the mean of the last 3 generations,
on a log scale, and the envelopes C rho^t (C = ||theta_0 - theta_inf||) for rho = rate_exact and,
where finite and below one, ||J||_2, rate_sharp and rate_paper from ``stability.analyze`` at the
pretrained theta (``FlowLikelihood``). Right: the observed per-generation ratios
||theta_(t+1) - theta_inf|| / ||theta_t - theta_inf|| against rate_exact.

What it shows (read the JSON for the numbers): the pretrained theta is not a local maximum of the
training log-likelihood (A has negative eigenvalues; the library's own fit of theta* does not converge),
so the analysis is that of the positive-curvature subspace, its bounds are infinite and ||J||_2 >> 1.
The observed distances do not decay geometrically from theta_0: fine-tuning with Adam moves theta by
an amount set by the learning rate and the minibatch noise each generation, so theta_t wanders
(along the flow's symmetry and flat directions too) and the distance to the late mean falls only
because theta_inf is defined by the last generations. The comparison is therefore negative: the
local theory is not testable in raw parameter space for this model. ``--fast``: tiny budgets.
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save

import stability
from stability.cli import jsonable
from stability.experiments import default_config, flow_parameters, load_dataset, load_model, retrain
from stability.experiments.analysis import FlowLikelihood

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ("0.5", "1")
LAST = 3  # generations averaged into theta_inf
FLOW = {"transforms": 1, "hidden": [8, 8], "bins": 4}


def _finite(x) -> float | None:
    return float(x) if np.isfinite(x) else None


def main(argv=None):
    args = parse_args(__doc__, argv)
    if args.fast:
        over = dict(n=200, generations=6, pretrain_steps=200, finetune_steps=20, eval_samples=200)
        cfg = default_config("flow", "moons", "tiny", lambdas=LAMBDAS, model_options=FLOW, **over)
        base = Path(tempfile.mkdtemp(dir=args.out))
    else:
        over = dict(n=500, generations=12)
        cfg = default_config("flow", "moons", "quick", lambdas=LAMBDAS, model_options=FLOW, **over)
        base = ROOT / "runs" / "fig_flow_contraction"
    result = retrain(cfg, base / "flow_moons", resume=True, progress=not args.fast)
    print(result.summary)
    data = load_dataset(cfg.data, n=cfg.n, heldout=cfg.heldout, seed=cfg.seed)
    flow0 = load_model(result.run_dir, LAMBDAS[0], 0)
    adapter = FlowLikelihood(flow0, fit=not args.fast, estimate_L=not args.fast)
    constants = adapter.local_constants(data.train)
    reports = {lam: stability.build_report(constants, float(lam)) for lam in LAMBDAS}

    out = {"config": cfg.to_dict(), "theta_inf": f"mean of the last {LAST} generations", "chains": {}}
    d = constants.details
    out["constants"] = {
        "n_params": adapter.n_params,
        "alpha": constants.alpha,
        "alpha_full": d.get("alpha_full"),
        "negative_eigenvalues_A": d.get("negative_A"),
        "L": _finite(constants.L),
        "eps": constants.eps,
        "eps_samples": d.get("eps_samples"),
        "grad_inf_at_theta0": d.get("grad_inf"),
        "refusal": d.get("refusal"),
        "quotient": d.get("quotient"),
        "how": {k: d.get(k) for k in ("at", "A, B", "alpha", "L", "eps", "eps_samples_how", "expectations")},
    }
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    for i, lam in enumerate(LAMBDAS):
        rep = reports[lam]
        thetas = adapter.free_theta(flow_parameters(result.run_dir, lam))
        theta_inf = thetas[-LAST:].mean(0)
        dist = np.linalg.norm(thetas - theta_inf, axis=1)
        t = np.arange(len(dist))
        ratios = dist[1:] / dist[:-1]
        color = f"C{i}"
        ax.semilogy(t, dist, "o-", color=color, label=rf"observed, $\lambda$={lam}")
        rates = {"rate_exact": rep.rate_exact, "norm2": rep.norm2, "rate_sharp": rep.rate_sharp}
        rates["rate_paper"] = rep.rate_paper
        for (name, rho), ls in zip(rates.items(), ("--", ":", "-.", (0, (1, 3))), strict=True):
            if np.isfinite(rho) and 0 < rho < 1:
                ax.semilogy(t, dist[0] * rho**t, ls=ls, color=color, alpha=0.7, label=rf"{name}={rho:.3g}")
        bx.plot(t[1:], ratios, "o-", color=color, label=rf"observed ratio, $\lambda$={lam}")
        bx.axhline(rep.rate_exact, color=color, ls="--", label=f"rate_exact={rep.rate_exact:.3g}")
        out["chains"][lam] = {
            "rate_exact": rep.rate_exact,
            "gamma_max": float(rep.gammas[-1]),
            "norm2": rep.norm2,
            "norm_energy": rep.norm_energy,
            "rate_sharp": _finite(rep.rate_sharp),
            "rate_paper": _finite(rep.rate_paper),
            "distance_to_theta_inf": dist.tolist(),
            "distance_to_theta0": np.linalg.norm(thetas - thetas[0], axis=1).tolist(),
            "ratios": ratios.tolist(),
            "w2": result.series(lam, "w2").tolist(),
            "nll": result.series(lam, "nll").tolist(),
        }
    ax.set_xlabel("generation t")
    ax.set_ylabel(r"$\|\theta_t - \theta_\infty\|$ (free parameters)")
    ax.set_title(f"retrained NSF on moons ({adapter.n_params} parameters)", fontsize=9)
    ax.legend(fontsize=6)
    bx.set_xlabel("generation t")
    bx.set_ylabel(r"$\|\theta_{t} - \theta_\infty\| / \|\theta_{t-1} - \theta_\infty\|$")
    bx.set_title("per-generation ratio vs rate_exact", fontsize=9)
    bx.legend(fontsize=6)
    fig.tight_layout()
    save(fig, args, "fig_flow_contraction")
    (args.out / "fig_flow_contraction.json").write_text(json.dumps(jsonable(out), indent=1) + "\n")
    print(
        json.dumps(
            {
                lam: {k: v for k, v in c.items() if k in ("rate_exact", "norm2", "ratios")}
                for lam, c in out["chains"].items()
            }
        )
    )


if __name__ == "__main__":
    main()
