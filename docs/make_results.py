"""Write ``docs/results.md``, the tables of the stored deep-model runs (``make results``).

Reads only ``results/cpu/`` and ``results/gpu/`` (the ``make gpu-validation`` runs, when stored; the
page says so when there are none): each run's ``config.json``, ``metrics.jsonl`` and ``provenance.json``
(or the git commit that stored it), ``flow_contraction.json``, ``stationary.json`` and
``flow_validation/summary.json``, ``flow_validation_scale/summary.json`` and ``diffusion_validation/``
(``summary.json``, ``steps.json``, ``config.json``). The only numbers it computes are
closed forms on the settings those files record: the paper's bound against the exact rate for the models of
``figures/fig_stationary.py`` (``stability.analyze``, deterministic) and the first-order law next to the stored
simulations (and, for the scale run, the last ratio before a contraction run stalls at the refit tolerance).
``--check`` exits 1 when the committed page differs from what the stored results give (the test does
the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "results" / "cpu"
GPU_STORE = ROOT / "results" / "gpu"
PAGE = ROOT / "docs" / "results.md"
sys.path.insert(0, str(ROOT / "figures"))

_FLOW = (("w2", "W2 to held-out"), ("nll", "held-out NLL (nats)"))
RUNS = (  # folder, title, metrics (key, label, lower is better?)
    ("flow_moons", "Normalizing flow on two moons", _FLOW),
    ("flow_moons_seed1", "Normalizing flow on two moons, seed 1", _FLOW),
    ("flow_moons_seed2", "Normalizing flow on two moons, seed 2", _FLOW),
    ("ddpm_moons", "DDPM on two moons", (("w2", "W2 to held-out"),)),
    ("ddpm_moons_seed1", "DDPM on two moons, seed 1", (("w2", "W2 to held-out"),)),
    ("ddpm_moons_seed2", "DDPM on two moons, seed 2", (("w2", "W2 to held-out"),)),
    ("cfm_moons", "OT conditional flow matching on two moons", (("w2", "W2 to held-out"),)),
    ("cfm_moons_seed1", "OT conditional flow matching on two moons, seed 1", (("w2", "W2 to held-out"),)),
    ("cfm_moons_seed2", "OT conditional flow matching on two moons, seed 2", (("w2", "W2 to held-out"),)),
    (
        "ddpm_digits",
        "DDPM on 8×8 digits",
        (("fd", "Fréchet distance"), ("precision", "precision"), ("recall", "recall")),
    ),
)


def _provenance(folder: Path) -> str:
    from _stored import provenance

    p = provenance(folder)
    return f"commit {p.get('commit', 'unknown')}, {p.get('date', 'unknown')}"


def _run_table(folder: Path, title: str, metrics) -> list[str]:
    cfg = json.loads((folder / "config.json").read_text())["config"]
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    last = max(r["generation"] for r in rows)
    n = cfg["n"] if cfg["n"] is not None else "all training points"
    out = [
        f"## {title}",
        "",
        f"`results/cpu/{folder.name}` ({_provenance(folder)}): {cfg['model']} on {cfg['data']}, n = {n}, "
        f"{cfg['generations']} generations of {cfg['finetune_steps']} fine-tuning steps after "
        f"{cfg['pretrain_steps']} pretraining steps, seed {cfg['seed']}. Generation 0 is the pretrained model "
        f"(the same for every chain); each cell is generation 0 → generation {last}.",
        "",
        "| chain | " + " | ".join(label for _, label in metrics) + " | ‖θ_t − θ_0‖ at the end |",
        "|---|" + "---|" * (len(metrics) + 1),
    ]
    for chain in cfg["lambdas"]:
        rs = {r["generation"]: r for r in rows if r["chain"] == chain}
        cells = [f"{rs[0][k]:.3f} → {rs[last][k]:.3f}" for k, _ in metrics]
        label = "replace (purely synthetic)" if chain == "replace" else f"λ = {chain}"
        out.append(f"| {label} | " + " | ".join(cells) + f" | {rs[last]['param_dist']:.2f} |")
    return out + [""]


def _contraction() -> list[str]:
    path = STORE / "flow_contraction.json"
    out = json.loads(path.read_text())
    c = out["constants"]
    lines = [
        "## Local analysis of a retrained flow",
        "",
        f"`results/cpu/flow_contraction.json` ({_provenance(path)}): `stability.analyze` at a pretrained spline "
        f"flow with {c['n_params']} free parameters ({c['negative_eigenvalues_A']} negative eigenvalues of A; "
        f"the fit of θ* was refused), against ‖θ_t − θ_∞‖ over {out['config']['generations']} generations "
        f"(θ_∞: {out['theta_inf']}).",
        "",
        "| λ | rate_exact | ‖J‖₂ | mean ratio, generations 1–10 | ‖θ_t − θ_0‖ at the end | step, first → last |",
        "|---|---|---|---|---|---|",
    ]
    for lam, ch in out["chains"].items():
        ratios = ch["ratios"][:10]
        steps = ch["step_sizes"]
        lines.append(
            f"| {lam} | {ch['rate_exact']:.3f} | {ch['norm2']:.0f} | {sum(ratios) / len(ratios):.3f} | "
            f"{ch['distance_to_theta0'][-1]:.2f} | {steps[0]:.3f} → {steps[-1]:.3f} |"
        )
    return lines + [""]


def _num(x, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _flow_validation() -> list[str]:
    folder = STORE / "flow_validation"
    meta = json.loads((folder / "config.json").read_text())
    cfg = meta["config"]
    rows = json.loads((folder / "summary.json").read_text())
    lines = [
        "## Smooth flow at its maximum: predictions against observation",
        "",
        f"`results/cpu/flow_validation` (commit {meta['commit']}, {meta['date']}): smooth MAF "
        f"({cfg['transforms']} transforms, hidden {cfg['hidden']}, {rows[0]['d']} free parameters, float64), "
        f"n = {cfg['n']} "
        f"standardised points, prior β = {cfg['beta']:g} on the real-data term; prediction 1 from θ* + "
        f"{cfg['delta']:g}·(random direction | slowest mode), last per-step ratio; predictions 2 (refit to "
        f"convergence by `retrain_chains`) and 3 (fixed budget of {cfg['budget']['steps']} Adam steps) over "
        f"{cfg['chains']} chains × generations {cfg['burn_in'] + 1}–{cfg['generations']}. Excess: of the "
        "penalised real-data term (nats per point); predicted: the first-order law over the same window from θ* "
        "(its stationary value in brackets); SE from the autocorrelation the law gives. ‖e‖²_A: E(θ_t − θ*)ᵀA(θ_t − "
        "θ*), predicted tr(AC); 'far': fraction of chain states where 2 × excess and ‖e‖²_A differ by more than "
        "half (outside the quadratic region). Theorems 1/2: '–' where the bound is infinite.",
        "",
        "| data | λ | d | ‖∇‖ (relative) | rate_exact | ratio random / slowest | excess pred (stationary) | "
        "excess refit ± SE | excess budget | ‖e‖²_A pred / refit | far | Thm 1 rate | Thm 2 excess |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['lambda']:g} | {r['d']} | {r['grad_rel']:.1e} | {r['rate_exact']:.4f} | "
            f"{_num(r['observed_ratio'], '.4f')} / {_num(r['observed_ratio_slowest'], '.4f')} | "
            f"{r['excess_pred_window']:.4f} ({r['excess_pred']:.4f}) | {_num(r['excess_obs'], '.4f')} ± "
            f"{r['excess_se']:.4f} | {_num(r['excess_obs_budget'], '.4f')} | {r['A_norm_pred']:.4f} / "
            f"{_num(r['A_norm_obs'], '.4f')} | {_num(r.get('nonquadratic_frac'), '.2f')} | "
            f"{_num(r['theorem1_rate'], '.3f')} | {_num(r['theorem2_excess'], '.3g')} |"
        )
    return lines + [""]


def _mark(ok) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def _milli(x) -> str:
    return "–" if x is None else f"{1e3 * x:.3f}"


def _diffusion_validation() -> list[str]:
    folder = STORE / "diffusion_validation"
    cfg = json.loads((folder / "config.json").read_text())
    rows = json.loads((folder / "summary.json").read_text())
    steps = json.loads((folder / "steps.json").read_text())
    dd, cf = cfg["models"]["ddpm"], cfg["models"]["cfm"]
    ch = cfg["chains"]
    lines = [
        "## DDPM and OT flow matching at their loss fixed point: predictions against observation",
        "",
        "`results/cpu/diffusion_validation` (`python studies/diffusion_validation.py`, resumable; drawn by "
        f"`fig_diffusion_contraction.py`): `MLPDDPM` (tanh MLP, hidden {dd['hidden']}, T = {dd['T']}) and "
        f"`MLPFlowMatching` (hidden {cf['hidden']}, K = {cf['K']} {cf['method']} steps), d = {rows[0]['d']}, "
        f"n = {cfg['n']} standardised points, m = {dd['draws']} draws per point, prior β = {dd['beta']:g} (other β: "
        f"a stronger-prior variant), bank of {cfg['n_noise']} draws. θ*_λ by continuation in λ from θ̂ "
        "(docs/theory.md §13). Ratios: the expected operator's last per-step ratio from θ*_λ + "
        f"{cfg['operator']['delta']:g}·(slowest mode of J | random direction) against rate_exact | the linearised "
        f"ratio. Excess real loss over θ̂ (×10⁻³): predicted bias_loss + ½tr(AC); observed over {ch['chains']} "
        f"refit chains × generations {ch['burn_in'] + 1}–{ch['generations']} (SE over the chains); budget: "
        f"{cfg['budget']['steps']} Adam steps per round. Checks (the issue's Done-when): slowest ratio within 3 % "
        "of rate_exact, random within 3 % of the linearised, excess within 4 SE + 5 %. Chains' own states "
        "(×10⁻³, where diagnosed): ∇R_n(θ*)·mean(e) (the mean-offset term the first-order law sets to 0), "
        "mean ½(e − ē)ᵀA(e − ē) (the part ½tr(AC) predicts), and the quadratic model's total against the exact "
        "excess over θ*_λ. '–': not computed; a λ without rate has no fixed point on the branch from θ̂.",
        "",
        "| model | data | λ | β | self-cons | bias_loss | rate_exact | ratio slowest | ratio random / linearised "
        "| excess pred | excess obs ± SE | budget | checks slow / random / excess | ∇R·ē | ½(e−ē)ᵀA(e−ē) "
        "| quad model / exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r.get("checks") or {}
        g = r.get("diagnosis") or {}
        if r["rate_exact"] is None:
            why = (r.get("error") or "not computed").split(": ", 1)[-1]
            lines.append(
                f"| {r['model']} | {r['data']} | {r['lambda']:g} | {r['beta']:g} | no fixed point: {why} "
                "| | | | | | | | | | | |"
            )
            continue
        lines.append(
            f"| {r['model']} | {r['data']} | {r['lambda']:g} | {r['beta']:g} | {r['self_consistency']:.3f} | "
            f"{r['bias_loss']:.3g} | {r['rate_exact']:.5f} | {_num(r['observed_ratio_slowest'], '.5f')} | "
            f"{_num(r['observed_ratio'], '.5f')} / {_num(r['linear_ratio'], '.5f')} | {_milli(r['excess_pred'])} | "
            f"{_milli(r['excess_obs'])} ± {_milli(r['excess_se'])} | {_milli(r['excess_obs_budget'])} | "
            f"{_mark(c.get('ok_slowest'))} / {_mark(c.get('ok_random'))} / {_mark(c.get('ok_excess'))} | "
            f"{_milli(g.get('grad_term'))} | {_milli(g.get('quad_cov_term'))} | "
            f"{_milli(g.get('quad_model_excess'))} / {_milli(g.get('excess_exact'))} |"
        )
    lines += [
        "",
        "The sampler's step count (T for the DDPM, whose θ̂ is refitted for each T; K for the CFM, same θ̂):",
        "",
        "| model | data | steps | λ | self-cons | bias_loss | rate_exact |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in steps:
        if r["rate_exact"] is None:
            lines.append(f"| {r['model']} | {r['data']} | {r['steps']} | {r['lambda']:g} | no fixed point | | |")
        else:
            lines.append(
                f"| {r['model']} | {r['data']} | {r['steps']} | {r['lambda']:g} | {r['self_consistency']:.3f} | "
                f"{r['bias_loss']:.3g} | {r['rate_exact']:.4f} |"
            )
    return lines + [""]


def _flow_validation_scale() -> list[str]:
    folder = STORE / "flow_validation_scale"
    meta = json.loads((folder / "config.json").read_text())
    cfg = meta["config"]
    rows = json.loads((folder / "summary.json").read_text())

    def random_ratio(r):  # last per-step ratio before the distance stalls at the refit tolerance (G stops moving)
        path = folder / r["data"] / "contraction.json"
        runs = json.loads(path.read_text())["runs"] if path.is_file() else {}
        dist = runs.get(f"{r['lambda']:g}/random", {}).get("dist", [])
        moving = [b / a for a, b in zip(dist, dist[1:], strict=False) if b < a]
        return moving[-1] if moving else None

    lines = [
        "## Smooth flow at its maximum: the scale check",
        "",
        f"`results/cpu/flow_validation_scale` (commit {meta['commit']}, {meta['date']}): the same predictions with "
        f"{cfg['transforms']} transforms, hidden {cfg['hidden']}, n = {cfg['n']} standardised points of "
        f"{' and '.join(cfg['data'])}, prior β = {cfg['beta']:g}. This β prunes θ* to a few active parameters (B "
        "has a handful of non-null directions), so the check is of d free parameters with a small effective "
        "dimension; with smaller β all parameters are active but the round objective is not concave at θ* and "
        "refits jump far, with larger β θ* = 0 (measurements in `results/cpu/README.md`). Prediction 1 from θ* + "
        f"{cfg['delta']:g}·(random direction | slowest mode) after {cfg['steps_random']} | {cfg['steps_slowest']} "
        f"steps; prediction 2 over {cfg['chains']} chains × generations {cfg['burn_in'] + 1}–{cfg['generations']}; "
        "no fixed-budget chains. Columns as in the table above, except the random start's ratio: the last one before "
        "‖θ_t − θ*‖ stalls at the refit tolerance (where `summary.json` then records the ratio 1).",
        "",
        "| data | λ | d | ‖∇‖ (relative) | rate_exact | ratio random / slowest | excess pred (stationary) | "
        "excess refit ± SE | ‖e‖²_A pred / refit | far |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['lambda']:g} | {r['d']} | {r['grad_rel']:.1e} | {r['rate_exact']:.4f} | "
            f"{_num(random_ratio(r), '.4f')} / {_num(r['observed_ratio_slowest'], '.4f')} | "
            f"{r['excess_pred_window']:.5f} ({r['excess_pred']:.5f}) | {_num(r['excess_obs'], '.5f')} ± "
            f"{r['excess_se']:.5f} | {r['A_norm_pred']:.5f} / {_num(r['A_norm_obs'], '.5f')} | "
            f"{_num(r.get('nonquadratic_frac'), '.2f')} |"
        )
    return lines + [""]


# the data and models of figures/fig_stationary.py, as its stored settings name them
_STATIONARY_DATA = "rng(1): N(0,1) then U(-sqrt 3, sqrt 3)"
_STATIONARY_MODELS = ["StudentT(3.0)", "Logistic()"]


def _stationary_models(cfg: dict) -> dict:
    """``{name: (model, sample)}`` of ``figures/fig_stationary.py`` rebuilt from its stored settings."""
    import math

    import numpy as np

    from stability.numerical.models import Logistic, StudentT

    if cfg["data"] != _STATIONARY_DATA or cfg["models"] != _STATIONARY_MODELS:
        raise ValueError(f"stationary.json records data {cfg['data']!r}, models {cfg['models']}: update this script")
    rng = np.random.default_rng(1)
    normal = rng.standard_normal(cfg["n"])
    uniform = rng.uniform(-math.sqrt(3), math.sqrt(3), cfg["n"])
    return {"gaussian": ("gaussian", normal), "student-t": (StudentT(3.0), normal), "logistic": (Logistic(), uniform)}


def _bounds() -> list[str]:
    import stability
    from stability.bounds import max_lambda

    cfg = json.loads((STORE / "stationary.json").read_text())["config"]
    lams = (0.25, 0.5, 1.0, 4.0)
    lines = [
        "## Where the paper's bound certifies stability, and how loose it is",
        "",
        "Theorem 1 of Bertrand et al. (2024) certifies a local contraction where its bound on the rate "
        "(`rate_paper`, docs/theory.md §4) is below 1, i.e. for λ < λ_max; Ferbach et al.'s sharper "
        "form (`rate_sharp`) and the exact local rate λγ_max/(1 + λγ_max) (`rate_exact`, §3) are computed from the "
        "same θ*, A, B. Models and samples of `figures/fig_stationary.py` "
        f"(n = {cfg['n']}, {cfg['data']}), by `stability.analyze`; the exact rate is below 1 for every finite λ.",
        "",
        "| model | α | L | ε | λ_max paper | λ_max sharp | "
        + " | ".join(f"λ = {lam:g}: paper / sharp / exact" for lam in lams)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(lams),
    ]
    for name, (model, x) in _stationary_models(cfg).items():
        reports = [stability.analyze(model, x, lambda_=lam) for lam in lams]
        r = reports[0]
        paper, sharp = max_lambda(r.eps, r.alpha, r.L), max_lambda(r.eps, r.alpha, r.L, form="sharp")
        cells = [f"{q.rate_paper:.3g} / {q.rate_sharp:.3g} / {q.rate_exact:.3g}" for q in reports]
        lines.append(
            f"| {name} | {r.alpha:.3g} | {r.L:.3g} | {r.eps:.3g} | {paper:.3g} | {sharp:.3g} | "
            + " | ".join(cells)
            + " |"
        )
    return lines + [""]


def _stationary() -> list[str]:
    import stability

    path = STORE / "stationary.json"
    blob = json.loads(path.read_text())
    cfg, data = blob["config"], blob["data"]
    models = _stationary_models(cfg)
    consts = {k: models[k][0].local_constants(models[k][1]) for k in data}
    lines = [
        "## Stationary excess NLL of finite-sample retraining",
        "",
        f"`results/cpu/stationary.json` ({_provenance(path)}): the simulated points of `figures/fig_stationary.py`, "
        f"`stability.retrain_chains` with {cfg['chains']} chains per λ, n = {cfg['n']}, averaged over "
        f"{cfg['after_burn_in']} generations after the burn-in; mean ± one standard error of the per-chain averages, "
        "next to the first-order law ½ tr(AC) of `stability.stationary` (docs/theory.md §9) and the z-score.",
        "",
        "| λ | " + " | ".join(f"{k}: law / simulated ± SE (z)" for k in data) + " |",
        "|---|" + "---|" * len(data),
    ]
    for i, lam in enumerate(cfg["lambdas"]):
        cells = []
        for k in data:
            _, mean, se = data[k][i]
            law = stability.stationary(consts[k].A, consts[k].B, lam, cfg["n"]).excess_loss
            cells.append(f"{law:.3e} / {mean:.3e} ± {se:.1e} ({(mean - law) / se:+.1f})")
        lines.append(f"| {lam:g} | " + " | ".join(cells) + " |")
    return lines + [""]


def _gpu_runs(store: Path) -> list[str]:
    """The image-scale check on a GPU (``make gpu-validation``): one table per stored run, or a line saying none is."""
    lines = ["## Image-scale retraining on a GPU (`make gpu-validation`)", ""]
    runs = sorted(p.parent for p in store.glob("*/metrics.jsonl")) if store.is_dir() else []
    if not runs:
        rel = store.relative_to(ROOT) if store.is_relative_to(ROOT) else store
        return lines + [
            f"No GPU run is stored under `{rel}/`. "
            "`make gpu-validation` on a CUDA machine writes one (a DDPM on MNIST, λ = 0, 0.5, 1, replace, "
            "10 generations, sized for one call of at most 9 minutes on an H200); its code path runs in the "
            "test suite on the CPU (`PROFILE=tiny DEVICE=cpu`).",
            "",
        ]
    for folder in runs:
        cfg = json.loads((folder / "config.json").read_text())["config"]
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
        path = folder / "provenance.json"
        prov = json.loads(path.read_text()) if path.is_file() else {}
        m = prov.get("machine", {})
        device = m.get("gpu") or m.get("device", "unknown device")
        calls = prov.get("calls", [])
        status = (
            "complete"
            if prov.get("status", "complete") == "complete"
            else (f"incomplete: {len(prov.get('remaining', []))} (chain, generation) steps remain")
        )
        rel = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
        lines += [
            f"### {folder.name}",
            "",
            f"`{rel}` (commit {prov.get('commit', 'unknown')}, {prov.get('date', 'unknown')}; {device}, torch "
            f"{m.get('torch', '?')}, CUDA {m.get('cuda') or '–'}; {prov.get('wall_seconds', '?')} s wall over "
            f"{len(calls)} call(s); {status}): {cfg['model']} on {Path(cfg['data']).name}, n = {cfg['n']}, "
            f"{cfg['generations']} generations of {cfg['finetune_steps']} fine-tuning steps after "
            f"{cfg['pretrain_steps']} pretraining steps, {cfg['model_options']}, seed {cfg['seed']}. Each cell is "
            "generation 0 → the chain's last generation (in brackets), against held-out images in the feature "
            "space of the run's classifier.",
            "",
            "| chain | last generation | Fréchet distance | precision | recall | ‖θ_t − θ_0‖ at the end |",
            "|---|---|---|---|---|---|",
        ]
        for chain in cfg["lambdas"]:
            rs = {r["generation"]: r for r in rows if r["chain"] == chain}
            last = max(rs)
            cells = [f"{rs[0][k]:.3f} → {rs[last][k]:.3f}" for k in ("fd", "precision", "recall")]
            label = "replace (purely synthetic)" if chain == "replace" else f"λ = {chain}"
            lines.append(f"| {label} | {last} | " + " | ".join(cells) + f" | {rs[last]['param_dist']:.2f} |")
        lines.append("")
    return lines


def render(gpu_store: Path | None = None) -> str:
    lines = [
        "# Results of the stored runs",
        "",
        "Generated by `make results` (`docs/make_results.py`) from `results/cpu/` and `results/gpu/` only; the",
        "figures of the {doc}`gallery` draw the same runs. A test checks that this page matches the stored results.",
        "",
    ]
    for name, title, metrics in RUNS:
        if (STORE / name / "metrics.jsonl").is_file():
            lines += _run_table(STORE / name, title, metrics)
    if (STORE / "flow_contraction.json").is_file():
        lines += _contraction()
    if (STORE / "stationary.json").is_file():
        lines += _bounds() + _stationary()
    if (STORE / "flow_validation" / "summary.json").is_file():
        lines += _flow_validation()
    if (STORE / "flow_validation_scale" / "summary.json").is_file():
        lines += _flow_validation_scale()
    if (STORE / "diffusion_validation" / "summary.json").is_file():
        lines += _diffusion_validation()
    lines += _gpu_runs(GPU_STORE if gpu_store is None else Path(gpu_store))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/results.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else ""
        if current != text:
            print("docs/results.md is out of date: run `make results`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
