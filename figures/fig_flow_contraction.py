"""Predicted local contraction (stability.analyze at the pretrained flow) against the observed one.

A small neural spline flow (zuko NSF, 1 transform, conditioner hidden [8, 8], 4 bins: 198 free
parameters) is pretrained on two moons (n = 500) and retrained by the paper's protocol
(``stability.experiments.retrain``, quick profile, fixed-real, lambda = 0.5 and 1, 60 generations of
200 Adam steps at lr 3e-4; runs kept in ``runs/fig_flow_contraction``). Left: ||theta_t - theta_inf||
(free parameters), theta_inf = the mean of the last 10 generations, on a log scale, with the
envelopes C rho^t (C = ||theta_0 - theta_inf||) for rho = rate_exact and, where finite and below
one, ||J||_2, rate_sharp and rate_paper from ``stability.analyze`` at the pretrained theta
(``FlowLikelihood``; the library's own fit of theta* is attempted and its refusal recorded).
Middle: observed ratios ||theta_t - theta_inf|| / ||theta_(t-1) - theta_inf|| against rate_exact.
Right: ||theta_t - theta_0|| and the step ||theta_t - theta_(t-1)|| per generation.
Numbers: ``fig_flow_contraction.json`` next to the PNG.

What it shows (full mode, measured; honestly a negative result): no contraction to a fixed point.
The pretrained theta is not a local maximum of the training log-likelihood (the library's Newton fit
of theta* stops after 100 iterations with |grad|_inf = 1.5; A has 84 negative eigenvalues of 198), so
``analyze`` describes only the positive-curvature subspace: rate_exact = 0.975 (lambda = 0.5) and
0.987 (lambda = 1), ||J||_2 = 176 and 150, bounds infinite (L ~ 2e10 from the spline kinks, alpha
~2e-5). Retraining keeps improving the likelihood instead: held-out NLL falls from 1.90 to 1.63
nats over 60 generations, each generation moves theta by a nearly constant 0.11-0.19 (no decay), and
||theta_t - theta_0|| grows almost linearly to 5.6 (lambda = 0.5) and 5.3 (lambda = 1). The distance
to theta_inf therefore falls *linearly*, not geometrically, and its early ratios (0.97-0.99) match
rate_exact only by coincidence (a linear decline D - s t has ratios near 1 - s/D); lambda = 0.5 and
1 behave alike. The local theory, which presupposes that theta* is a fixed point near theta_0, is not
testable in parameter space for this model at this budget. ``--fast``: tiny budgets, not meaningful.
The iteration of the numerical operator G_lambda from a perturbed start is not drawn: its fixed
point is theta*, which the library cannot fit for this flow (see ``stability.experiments.analysis``).
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save

import stability
from stability._jsonable import jsonable
from stability.experiments import default_config, flow_parameters, load_dataset, load_model, retrain
from stability.experiments.analysis import FlowLikelihood

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ("0.5", "1")
LAST = {True: 2, False: 10}  # generations averaged into theta_inf (fast, full)
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
        over = dict(n=500, generations=60)
        cfg = default_config("flow", "moons", "quick", lambdas=LAMBDAS, model_options=FLOW, **over)
        base = ROOT / "runs" / "fig_flow_contraction"
    result = retrain(cfg, base / "flow_moons", resume=True, progress=not args.fast)
    print(result.summary())
    data = load_dataset(cfg.data, n=cfg.n, heldout=cfg.heldout, seed=cfg.seed)
    flow0 = load_model(result.run_dir, LAMBDAS[0], 0)
    adapter = FlowLikelihood(flow0, fit=not args.fast, estimate_L=not args.fast)
    constants = adapter.local_constants(data.train)
    reports = {lam: stability.build_report(constants, float(lam)) for lam in LAMBDAS}

    last = LAST[args.fast]
    out = {"config": cfg.to_dict(), "theta_inf": f"mean of the last {last} generations", "chains": {}}
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
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15, 4))
    for i, lam in enumerate(LAMBDAS):
        rep = reports[lam]
        thetas = adapter.free_theta(flow_parameters(result.run_dir, lam))
        theta_inf = thetas[-last:].mean(0)
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
        steps = np.linalg.norm(np.diff(thetas, axis=0), axis=1)
        from0 = np.linalg.norm(thetas - thetas[0], axis=1)
        cx.plot(t, from0, "o-", ms=3, color=color, label=rf"$\|\theta_t - \theta_0\|$, $\lambda$={lam}")
        cx.plot(t[1:], steps, "s:", ms=3, color=color, label=rf"step $\|\theta_t - \theta_{{t-1}}\|$, $\lambda$={lam}")
        out["chains"][lam] = {
            "rate_exact": rep.rate_exact,
            "gamma_max": float(rep.gammas[-1]),
            "norm2": rep.norm2,
            "norm_energy": rep.norm_energy,
            "rate_sharp": _finite(rep.rate_sharp),
            "rate_paper": _finite(rep.rate_paper),
            "distance_to_theta_inf": dist.tolist(),
            "distance_to_theta0": from0.tolist(),
            "step_sizes": steps.tolist(),
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
    cx.set_xlabel("generation t")
    cx.set_title("drift: distance from the pretrained theta and step per generation", fontsize=9)
    cx.legend(fontsize=6)
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
