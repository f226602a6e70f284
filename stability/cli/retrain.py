"""``stability retrain``: the retraining protocol from the command line.

Example (the CPU quick profile for a flow on two moons)::

    stability retrain --model flow --data moons --lambda 0 0.25 0.5 1 replace --generations 5 --out runs/flow_moons

Unset options take the profile's defaults (:func:`stability.experiments.loop.default_config`).
This module imports nothing heavy at registration, so ``stability --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError
from ._options import add_device, add_json, add_out, add_quiet, add_seed, integer, number, progress

__all__ = ["register"]

# options passed to default_config when given
_OVERRIDES = (
    "lambdas",
    "generations",
    "n",
    "heldout",
    "seed",
    "pretrain_steps",
    "finetune_steps",
    "batch_size",
    "lr",
    "finetune_lr",
    "eval_samples",
    "device",
)


def _cmd_retrain(args: argparse.Namespace) -> int:
    from .._jsonable import jsonable
    from .._optional import require

    require("torch", "the deep experiments (stability retrain)", "experiments")
    from ..experiments.loop import default_config, retrain

    # each option's dest is the RetrainConfig field it sets: a library error's param names the flag (_main)
    overrides = {key: getattr(args, key) for key in _OVERRIDES if getattr(args, key) is not None}
    config = default_config(args.model, args.data, profile=args.profile, **overrides)
    if args.resume and not (Path(args.out) / "config.json").is_file():
        raise InputError(f"--out {args.out!r} holds no run to resume (no config.json): drop --resume to start one")
    result = retrain(config, args.out, resume=args.resume, progress=progress(args), plots=not args.no_plots)
    if args.json:
        print(json.dumps(jsonable({"run_dir": str(result.run_dir), "rows": list(result.rows)})))
    else:
        print(result.summary())
    print(f"run directory: {result.run_dir}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..experiments.registry import MODEL_REGISTRY  # torch-free: the one list of models

    p = sub.add_parser(
        "retrain",
        help=f"iteratively retrain a generative model ({', '.join(MODEL_REGISTRY)}) on its own samples "
        "(the paper's protocol)",
        description="Pretrain on real data (generation 0), then for each lambda retrain on the real set "
        "plus floor(lambda n) fresh samples (or fully synthetic: replace; or accumulate), fine-tuning from "
        "the current weights, and evaluate each generation against held-out data. Resumable.",
    )
    p.add_argument(
        "--model",
        choices=list(MODEL_REGISTRY),
        required=True,
        help="; ".join(f"{name}: {summary}" for name, (_, summary) in MODEL_REGISTRY.items()),
    )
    p.add_argument(
        "--data", required=True, help="moons, circles, eight_gaussians, checkerboard, digits or an image file"
    )
    p.add_argument(
        "--lambda",
        dest="lambdas",
        nargs="+",
        metavar="LAMBDA",
        help="grid of chains: numbers >= 0 (fixed-real), 'replace', 'accumulate', or scheme:value for any scheme, "
        "e.g. fresh-real:0.5, accumulate-subsample:1, fresh-fraction:0.3 (default 0 0.25 0.5 1 replace)",
    )
    p.add_argument("--generations", type=integer("--generations"), help="retraining rounds after pretraining, >= 1")
    add_out(p, help="run directory", required=True)
    add_device(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last complete generation")
    p.add_argument("--profile", choices=["quick", "tiny"], default="quick", help="default sizes (tiny: seconds)")
    p.add_argument("--n", type=integer("--n"), help="size of the real training set")
    p.add_argument("--heldout", type=number("--heldout"), help="held-out fraction, in (0, 1)")
    add_seed(p, help="seed (default 0)")
    p.add_argument("--pretrain-steps", type=integer("--pretrain-steps"))
    p.add_argument("--finetune-steps", type=integer("--finetune-steps"))
    p.add_argument("--batch-size", type=integer("--batch-size"))
    p.add_argument("--lr", type=number("--lr"), help="pretraining learning rate (cosine-annealed)")
    p.add_argument("--finetune-lr", type=number("--finetune-lr"))
    p.add_argument(
        "--eval-samples", type=integer("--eval-samples"), help="model samples per evaluation (and W2 subsample size)"
    )
    p.add_argument("--no-plots", action="store_true", help="do not save per-generation sample plots")
    add_quiet(p)
    add_json(p, help="print every metrics row as one JSON object (implies --quiet)")
    p.set_defaults(func=_cmd_retrain)
    return p
