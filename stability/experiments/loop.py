"""The retraining protocol of the experiments of Bertrand et al. (2024), in memory and resumable.

Generation 0 is the model pretrained on the fixed real training set (``n`` points). Each chain
(one per entry of the lambda grid) then repeats, for ``t = 1..generations``:

1. draw fresh samples from the current model ``theta_{t-1}``;
2. build the training set in memory according to the scheme:
   ``fixed-real`` (lambda >= 0, the paper's): the ``n`` real points plus ``k`` samples, ``k`` from
   :func:`stability.schemes.synthetic_count` (the count :func:`stability.dynamics.simulate` uses),
   so the synthetic share is ``w = lambda / (1 + lambda)`` (docs/theory.md §1);
   ``replace``: ``n`` samples only (fully synthetic, lambda = inf);
   ``accumulate``: the real points plus every sample drawn so far, ``n`` new ones per round
   (Gerstgrasser et al. 2024; docs/theory.md §7); every other scheme of :mod:`stability.schemes`
   through a chain label ``scheme:value`` (:func:`~stability.experiments.config.chain_label`, e.g.
   ``fresh-real:0.5``; fresh real data are drawn with replacement from the ``n`` real points,
   a subsampling scheme fits ``n`` points of its pool);
3. fine-tune from ``theta_{t-1}`` for a fixed budget (``finetune_steps`` Adam steps on uniform
   minibatches of that set, a fresh optimiser each round), giving ``theta_t``;
4. evaluate against the held-out real data and write an atomic checkpoint and a metrics row.

The chains advance together, generation by generation, so a call stopped by its ``time_budget``
leaves every chain at about the same generation (:func:`retrain`).

Reproducibility: every random draw of generation ``t`` of chain ``c`` (model samples, minibatches,
diffusion noise, evaluation subsamples) comes from generators seeded by ``(seed, c, t)`` at the
start of that generation. The only state carried from one generation to the next is therefore in
the checkpoint (the weights, and the sample pool for ``accumulate``), so a run killed at any point
and resumed from its last complete generation gives the same numbers as an uninterrupted run on the
CPU (GPU kernels may be non-deterministic).
"""

from __future__ import annotations

import io
import json
import math
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._domains import Interval, check
from .._io import atomic_bytes, atomic_save, atomic_write_text, config_hash
from ..errors import InputError, OutputError, check_memory
from .config import DEFAULT_LAMBDAS, RetrainConfig, build_model, chain_label, chain_scheme, default_config, parse_chain
from .data import load_dataset
from .metrics import feature_net, features, frechet_distance, heldout_nll, param_distance, prdc_metrics, w2
from .models import parameter_vector
from .runs import FORMAT, CheckpointError, checkpoint_path, load_checkpoint, read_config, sort_rows

__all__ = [
    "DEFAULT_LAMBDAS",
    "METRIC_KEYS",
    "RetrainConfig",
    "RetrainResult",
    "build_model",
    "chain_label",
    "default_config",
    "parse_chain",
    "retrain",
    "summary_table",
]

METRIC_KEYS = ("w2", "nll", "nll_bpd", "fd", "precision", "recall", "density", "coverage", "param_dist")


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`retrain` did: the run directory, every metrics row, and where each chain resumed.

    ``remaining``: the ``(generation, chain)`` steps left when a time budget stopped the call (empty
    when the run is complete); ``timings``: this call's steps with the wall time of each phase in
    seconds (``open``: checks and data loading; ``classifier``: the image metrics' feature net;
    ``pretrain``: fit / evaluate / save; each generation: draw / fit / evaluate / save).
    """

    run_dir: Path
    rows: tuple
    resumed_from: dict
    remaining: tuple = ()
    timings: tuple = ()

    @property
    def complete(self) -> bool:
        """Whether every chain reached the configured number of generations."""
        return not self.remaining

    def summary(self) -> str:
        """A text table: per chain, each metric at generation 0 and at the last generation."""
        return summary_table(self.rows)

    def series(self, chain: str, key: str) -> np.ndarray:
        """Metric ``key`` of ``chain`` for generations ``0..T`` as an array."""
        rows = sorted((r for r in self.rows if r["chain"] == chain), key=lambda r: r["generation"])
        return np.array([r[key] for r in rows], dtype=float)


def _seed(seed: int, chain: str | None, generation: int, stream: int = 0) -> int:
    key = zlib.crc32((chain or "pretrain").encode())
    return int(np.random.SeedSequence([seed, key, generation, stream]).generate_state(1)[0])


def _fit(model, x, steps, batch_size, lr, progress, desc, cosine=False):
    from tqdm.auto import tqdm

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    bar = tqdm(range(steps), desc=desc, leave=False, disable=not progress)
    for step in bar:
        idx = torch.randint(0, len(x), (batch_size,), device=x.device)
        loss = model.loss(x[idx])
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged ({desc}, step {step}): loss {float(loss)}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{float(loss.detach()):.3g}")
    model.eval()


def _draw(model, m: int, chunk: int = 4096) -> torch.Tensor:
    model.eval()
    return torch.cat([model.sample(min(chunk, m - i)) for i in range(0, m, chunk)]) if m else None


class _Evaluator:
    def __init__(self, config, data, run_dir, device="cpu"):
        self.config, self.data = config, data
        self.m = min(config.eval_samples, len(data.heldout))
        self.net = None
        if data.kind == "image":
            self.net, self.net_info = feature_net(
                data.train,
                data.train_labels,
                cache_dir=run_dir,
                seed=config.seed,
                steps=config.classifier_steps,
                heldout=(data.heldout, data.heldout_labels),
                device=device,
            )
            self.real = features(self.net, data.heldout[: self.m])

    def __call__(self, model, theta0, seed) -> tuple[dict, torch.Tensor]:
        rng = np.random.default_rng(seed)
        samples = _draw(model, self.m).cpu()
        row = {"param_dist": param_distance(parameter_vector(model), theta0)}
        if self.data.kind == "2d":
            row["w2"] = w2(samples, self.data.heldout, m=self.m, seed=rng)
        else:
            fake = features(self.net, samples[: self.m].clamp(-1.0, 1.0))
            row["fd"] = frechet_distance(self.real, fake)
            row.update(prdc_metrics(self.real, fake, nearest_k=5))
        if hasattr(model, "log_prob"):
            device = next(model.parameters()).device
            heldout = self.data.heldout.to(device)
            if getattr(model, "dequantize", 0.0):
                row["nll_bpd"] = model.bits_per_dim(heldout)
            else:
                row["nll"] = heldout_nll(model, heldout)
        return row, samples[:512]


def _plot(samples: torch.Tensor, path: Path, title: str) -> None:
    from .._optional import require

    matplotlib = require("matplotlib", "the sample plots of a run (--plot)")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if samples.dim() == 2:
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5)
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    else:
        k = int(math.sqrt(min(64, len(samples))))
        tiles = torch.nn.functional.pad(samples[: k * k, 0].clamp(-1, 1), (1, 1, 1, 1), value=-1.0)
        h, w = tiles.shape[-2:]
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(tiles.reshape(k, k, h, w).permute(0, 2, 1, 3).reshape(k * h, k * w), cmap="gray_r", vmin=-1, vmax=1)
        ax.axis("off")
    ax.set_title(title, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    atomic_bytes(buf.getvalue(), path)


def summary_table(rows) -> str:
    """A text table: per chain, each metric at generation 0 and at the last generation."""
    chains = list(dict.fromkeys(r["chain"] for r in rows))
    keys = [k for k in METRIC_KEYS if any(k in r for r in rows)]
    head = f"{'chain':>10} {'gens':>4} " + " ".join(f"{k + ' 0→T':>20}" for k in keys)
    lines = [head, "-" * len(head)]
    for c in chains:
        rs = sorted((r for r in rows if r["chain"] == c), key=lambda r: r["generation"])
        cells = [f"{rs[0][k]:9.4g}→{rs[-1][k]:<9.4g}" if k in rs[0] else f"{'-':>20}" for k in keys]
        lines.append(f"{c:>10} {rs[-1]['generation']:>4} " + " ".join(f"{s:>20}" for s in cells))
    return "\n".join(lines)


def _row(chain, generation, metrics, seconds):
    return {"chain": chain, "scheme": parse_chain(chain)[0], "generation": generation, **metrics, "seconds": seconds}


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {name!r}", param="device"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} is not available here (torch.cuda.is_available() is False)", param="device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(
            f"device {name!r} is not available here ({torch.cuda.device_count()} CUDA devices)", param="device"
        )
    return device


class RunExistsError(InputError):
    """``out`` already holds a run and ``resume`` was not asked for."""


def _check_run_dir(out) -> Path:
    """``out`` as a path, after checking it is (or can be created as) a writable folder."""
    if out is None or str(out).strip() == "":
        raise InputError(f"out must be a folder name, got {str(out)!r}", param="out")
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(f"out {str(run_dir)!r} is a file, not a folder: choose a folder for the run", param="out")
    existing = run_dir
    while not existing.exists():  # the nearest existing ancestor must be a writable folder
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"out {str(run_dir)!r}: {str(existing)!r} is a file, not a folder", param="out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"out {str(run_dir)!r}: no permission to write in {str(existing)!r}", param="out")
    return run_dir


# training sets are float32; copies alive at once: the set, its concatenation, the model's samples, a batch
_RETRAIN_COPIES = 4


def _check_retrain_memory(config: RetrainConfig, data) -> None:
    """Refuse, before training, a run whose largest training set would not fit in memory."""
    n = len(data.train)
    point = 4 * math.prod(data.shape)
    largest = config.eval_samples
    for chain in config.lambdas:
        scheme, lam = chain_scheme(chain)
        k = scheme.synthetic(n, lam)
        largest = max(largest, scheme.training_size(n, k, config.generations - 1))  # the last round's set
    check_memory(
        _RETRAIN_COPIES * largest * point,
        f"retrain's largest training set ({largest} points of shape {tuple(data.shape)})",
        "lower n (--n), the lambdas (--lambda) or, for accumulate, the generations (--generations)",
    )


def _open_run_dir(config: RetrainConfig, run_dir: Path, resume: bool):
    """Check ``run_dir`` against ``config`` (refuse a foreign run, or any run unless resuming), load
    the data and check the memory the run needs, and only then write ``config.json`` and clear
    temporary files of a killed writer: a failed start leaves the folder as it was. Returns the
    run's identity (config hash) and the data set."""
    _device(config.device)
    ident = config.identity()
    if (run_dir / "config.json").exists():
        if not resume:
            raise RunExistsError(
                f"out {str(run_dir)!r} already holds a run: pass resume (--resume) or choose a new folder", param="out"
            )
        old = read_config(run_dir)["config"]
        if config_hash(old) != ident:
            new = config.to_dict()
            diff = sorted(k for k in set(old) | set(new) if k != "generations" and old.get(k) != new.get(k))
            raise CheckpointError(f"out {str(run_dir)!r} holds a run with another configuration (differs in {diff})")
    data = load_dataset(config.data, n=config.n, heldout=config.heldout, seed=config.seed)
    if data.kind == "image" and data.train_labels is None:  # the image metrics train a labelled classifier
        raise InputError(
            f"data {config.data!r} has no labels: image runs need class labels for their feature classifier "
            "(an .npz 'labels' array, or the IDX labels file beside the images)",
            param="data",
        )
    _check_retrain_memory(config, data)
    run_dir.mkdir(parents=True, exist_ok=True)
    for tmp in run_dir.rglob(".*.tmp"):  # our own temporary files, left by a killed writer
        tmp.unlink()
    atomic_write_text(json.dumps({"config": config.to_dict(), "hash": ident}, indent=1) + "\n", run_dir / "config.json")
    return ident, data


class _Run:
    """A run being computed: its configuration, directory, data on the device, evaluator and checkpoint writer."""

    def __init__(self, config: RetrainConfig, run_dir: Path, ident: str, progress: bool, plots: bool, data):
        self.config, self.run_dir, self.ident, self.progress, self.plots = config, run_dir, ident, progress, plots
        self.data = data
        self.device = _device(config.device)
        self.train = self.data.train.to(self.device)
        clock = _Clock(self.device)
        self.evaluate = _Evaluator(config, self.data, run_dir, self.device)
        clock.lap("classifier")
        self.timings = [{"step": "metrics", **clock.phases}]

    def save(self, chain, generation, model, metrics, samples, pool=None) -> None:
        blob = {
            "format": FORMAT,
            "config_hash": self.ident,
            "chain": chain,
            "generation": generation,
            "shape": list(self.data.shape),
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "metrics": metrics,
            "samples": samples,
        }
        if pool is not None:
            blob["pool"] = pool.cpu()
        atomic_save(blob, checkpoint_path(self.run_dir, chain, generation))

    def plot(self, samples, chain, generation) -> None:
        if not self.plots:
            return
        if chain is None:
            _plot(samples, self.run_dir / "gen000.png", "generation 0 (pretrained)")
        else:
            path = self.run_dir / "chains" / chain / f"gen{generation:03d}.png"
            _plot(samples, path, f"λ={chain}, generation {generation}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Clock:
    """Wall time of consecutive phases, the device synchronised at each lap (GPU work is asynchronous)."""

    def __init__(self, device: torch.device):
        self.device, self.phases = device, {}
        self._last = self._now()

    def _now(self) -> float:
        _sync(self.device)
        return time.perf_counter()

    def lap(self, name: str) -> None:
        now = self._now()
        self.phases[name] = self.phases.get(name, 0.0) + now - self._last
        self._last = now


def _pretrained(run: _Run) -> tuple[torch.nn.Module, dict]:
    """Generation 0: the model pretrained on the real data (loaded from its checkpoint when present)."""
    config = run.config
    path0 = checkpoint_path(run.run_dir, None, 0)
    torch.manual_seed(_seed(config.seed, None, 0))  # loading: so that parameter shapes are built identically
    if path0.exists():
        blob0 = load_checkpoint(path0, run.ident, None, 0)
        model0 = build_model(config, run.data.shape)
        model0.load_state_dict(blob0["state_dict"])
        return model0.to(run.device), blob0["metrics"]
    start = time.perf_counter()
    clock = _Clock(run.device)
    model0 = build_model(config, run.data.shape).to(run.device)
    _fit(model0, run.train, config.pretrain_steps, config.batch_size, config.lr, run.progress, "pretrain", cosine=True)
    clock.lap("fit")
    metrics0, samples0 = run.evaluate(model0, parameter_vector(model0), _seed(config.seed, None, 0, 1))
    clock.lap("evaluate")
    metrics0["seconds"] = time.perf_counter() - start
    run.save(None, 0, model0, metrics0, samples0)
    run.plot(samples0, None, 0)
    clock.lap("save")
    run.timings.append({"step": "pretrain", "training_set": len(run.train), **clock.phases})
    return model0, metrics0


def _completed_generations(run: _Run, metrics0: dict) -> tuple[list, dict, dict]:
    """Each chain's last complete generation and its checkpoint; ``metrics.jsonl`` rebuilt from the checkpoints."""
    rows, last, blobs = [], {}, {}
    for chain in run.config.lambdas:
        rows.append(_row(chain, 0, {k: v for k, v in metrics0.items() if k != "seconds"}, metrics0.get("seconds")))
        g = 0
        while checkpoint_path(run.run_dir, chain, g + 1).exists() and g < run.config.generations:
            blob = load_checkpoint(checkpoint_path(run.run_dir, chain, g + 1), run.ident, chain, g + 1)
            m = dict(blob["metrics"])
            rows.append(_row(chain, g + 1, {k: v for k, v in m.items() if k != "seconds"}, m.get("seconds")))
            g, blobs[chain] = g + 1, blob
        last[chain] = g
    atomic_write_text("".join(json.dumps(r) + "\n" for r in rows), run.run_dir / "metrics.jsonl")
    return rows, last, blobs


def _concat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b])


def _training_set(scheme, lam, model, train: torch.Tensor, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw this round's points and mix them with the data as ``scheme`` declares: ``(pool, fit set)``.

    The real part is the training set ``train`` (``real="fixed"``) or, for a scheme that redraws its
    real data, :meth:`~stability.schemes.Scheme.real_size` points drawn uniformly with replacement from
    it (the empirical distribution of the ``n`` real points is this protocol's data distribution).
    The synthetic count is :meth:`~stability.schemes.Scheme.synthetic`, i.e.
    :func:`~stability.schemes.synthetic_count` of ``(len(train), lam)``: the same ``k`` as
    :func:`stability.dynamics.simulate`. The pool is :meth:`~stability.schemes.Scheme.training_set`
    (what the next round keeps), the fit set :meth:`~stability.schemes.Scheme.fit_set` (``n`` points of
    the pool drawn without replacement for a subsampling scheme). Draws in the order of
    :func:`stability.retraining.run`: real, synthetic, subsample (torch's generator, seeded per generation).
    """
    n = len(train)
    real = train
    if scheme.redraws_real:
        real = train[torch.randint(n, (scheme.real_size(n),), device=train.device)]
    k = scheme.synthetic(n, lam)
    pool = scheme.training_set(real, previous, _draw(model, k), _concat)
    return pool, scheme.fit_set(pool, n, lambda x, m: x[torch.randperm(len(x), device=x.device)[:m]])


@dataclass
class _ChainState:
    """Where a chain stands: its label and scheme, the weights of its last complete generation
    (``state``), the training set of that round (read by ``accumulate`` only; else the real set)
    and that generation's number (``done``)."""

    label: str
    scheme: object
    lam: float
    state: dict
    previous: torch.Tensor
    done: int


def _chain_state(run: _Run, chain: str, blob: dict | None, state0: dict, done: int) -> _ChainState:
    scheme, lam = chain_scheme(chain)
    pool = blob.get("pool") if blob is not None else None
    previous = run.train if pool is None else torch.cat([run.train, pool.to(run.device)])  # last round's set
    state = state0 if blob is None else {k: v.to(run.device) for k, v in blob["state_dict"].items()}
    return _ChainState(chain, scheme, lam, state, previous, done)


def _generation(run: _Run, model, chain: _ChainState, theta0) -> dict:
    """The next generation of ``chain``: draw and mix (:func:`_training_set`), fine-tune ``model``
    (loaded with the chain's weights), evaluate, checkpoint; advances ``chain`` and returns its row.

    The phases' wall times (the device synchronised first) are appended to ``run.timings``."""
    config, train = run.config, run.train
    g = chain.done + 1
    clock = _Clock(run.device)
    start = time.perf_counter()
    model.load_state_dict(chain.state)
    torch.manual_seed(_seed(config.seed, chain.label, g))
    pool, x = _training_set(chain.scheme, chain.lam, model, train, chain.previous)
    clock.lap("draw")
    desc = f"λ={chain.label} gen {g}"
    _fit(model, x, config.finetune_steps, config.batch_size, config.finetune_lr, run.progress, desc)
    clock.lap("fit")
    metrics, samples = run.evaluate(model, theta0, _seed(config.seed, chain.label, g, 1))
    clock.lap("evaluate")
    seconds = time.perf_counter() - start
    kept = pool[len(train) :].clone() if chain.scheme.accumulate else None  # every synthetic point drawn so far
    run.save(chain.label, g, model, {**metrics, "seconds": seconds}, samples, kept)
    run.plot(samples, chain.label, g)
    clock.lap("save")
    run.timings.append({"step": f"{chain.label} gen {g}", "training_set": len(x), **clock.phases})
    chain.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    chain.previous = pool if chain.scheme.accumulate else train
    chain.done = g
    return _row(chain.label, g, metrics, seconds)


# a generation is started only if its predicted time, times this margin, ends before the budget
_BUDGET_MARGIN = 1.25


def _predicted_seconds(rows, chain: str, pretrain_seconds) -> float:
    """A generation's predicted wall time: the chain's last measured generation, else the slowest
    last generation of any chain, else the pretraining (generation 0) time; 0 when nothing is known."""
    last = {}
    for r in rows:
        if r["generation"] > 0 and r.get("seconds") is not None:
            if r["generation"] >= last.get(r["chain"], (0, 0.0))[0]:
                last[r["chain"]] = (r["generation"], float(r["seconds"]))
    if chain in last:
        return last[chain][1]
    if last:
        return max(s for _, s in last.values())
    return float(pretrain_seconds or 0.0)


def retrain(
    config: RetrainConfig,
    out,
    resume: bool = False,
    progress: bool = True,
    plots: bool = False,
    time_budget: float | None = None,
) -> RetrainResult:
    """Run (or resume) the retraining protocol of ``config`` in the run directory ``out``.

    ``resume=False`` refuses a folder that already holds a run; ``resume=True`` validates every
    checkpoint present (raising :class:`CheckpointError` for a corrupt or foreign one) and continues
    each chain from its last complete generation. ``plots``: save a scatter plot / image grid of each
    generation's samples. ``progress``: tqdm bars (stderr) per generation and per training loop.
    ``time_budget`` (seconds, >= 0, counted from this call): stop cleanly before it; a generation is
    started only if its predicted time (the chain's last one, see :func:`_predicted_seconds`) times
    1.25 ends before the budget, and every call completes at least one step (pretraining or one
    generation of one chain), so calls always make progress; the result's ``remaining`` lists what
    is left, and calling again with ``resume=True`` continues. Returns a :class:`RetrainResult`
    (its ``summary()`` is the table the command line prints; ``timings`` the phases' wall times).

    Chains advance together, generation by generation (every chain's generation ``t`` before any
    chain's ``t + 1``), so a run stopped by its budget has every chain at about the same
    generation. The order does not change the numbers: each generation's randomness comes from
    ``(seed, chain, t)`` and its starting weights from the chain's last generation.

    Steps: open the run directory (:func:`_open_run_dir`), pretrain or load generation 0
    (:func:`_pretrained`), find what is already done (:func:`_completed_generations`), continue
    the chains (:func:`_generation`, whose training sets come from :func:`_training_set`).
    """
    from tqdm.auto import tqdm

    began = time.perf_counter()
    if time_budget is not None:
        time_budget = float(check("time_budget", time_budget, Interval(0.0)))
    run_dir = _check_run_dir(out)
    ident, data = _open_run_dir(config, run_dir, resume)
    opened = time.perf_counter() - began
    run = _Run(config, run_dir, ident, progress, plots, data)
    run.timings.insert(0, {"step": "open", "checks_and_data": opened})
    steps = 0 if checkpoint_path(run_dir, None, 0).exists() else 1  # pretraining counts as this call's step
    model0, metrics0 = _pretrained(run)
    theta0 = parameter_vector(model0)
    state0 = {k: v.clone() for k, v in model0.state_dict().items()}
    rows, last, blobs = _completed_generations(run, metrics0)
    chains = {c: _chain_state(run, c, blobs.get(c), state0, last[c]) for c in config.lambdas}
    pending = [(g, c) for g in range(1, config.generations + 1) for c in config.lambdas if last[c] < g]

    outer = tqdm(
        total=len(config.lambdas) * config.generations,
        initial=sum(last.values()),
        desc="generations",
        disable=not progress,
    )
    remaining = []
    for i, (_, chain) in enumerate(pending):
        if time_budget is not None and steps > 0:
            predicted = _BUDGET_MARGIN * _predicted_seconds(rows, chain, metrics0.get("seconds"))
            if time.perf_counter() - began + predicted > time_budget:
                remaining = pending[i:]
                break
        rows.append(_generation(run, model0, chains[chain], theta0))
        atomic_write_text(
            "".join(json.dumps(r) + "\n" for r in sort_rows(rows, config.lambdas)), run_dir / "metrics.jsonl"
        )
        outer.update(1)
        steps += 1
    outer.close()
    rows = sort_rows(rows, config.lambdas)
    atomic_write_text("".join(json.dumps(r) + "\n" for r in rows), run_dir / "metrics.jsonl")
    resumed = {c: last[c] for c in config.lambdas}
    return RetrainResult(run_dir, tuple(rows), resumed, tuple(remaining), tuple(run.timings))
