"""``stability retrain``: the retraining protocol from the command line.

Example (the CPU quick profile for a flow on two moons)::

    stability retrain --model flow --data moons --lambda 0 0.25 0.5 1 replace --generations 5 --out runs/flow_moons

Unset options take the profile's defaults (:func:`stability.experiments.loop.default_config`).
This module imports nothing heavy at registration, so ``stability --help`` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..errors import InputError, RuntimeFailure

__all__ = ["register"]

# field of RetrainConfig (or argument of retrain) -> its flag
_FLAGS = {
    "lambdas": "--lambda",
    "lambda": "--lambda",
    "pretrain_steps": "--pretrain-steps",
    "finetune_steps": "--finetune-steps",
    "batch_size": "--batch-size",
    "finetune_lr": "--finetune-lr",
    "eval_samples": "--eval-samples",
    **{k: "--" + k for k in ("generations", "n", "heldout", "seed", "lr", "device", "out", "data", "model", "profile")},
}


def _flag_message(message: str) -> str:
    """``'generations must be ...'`` -> ``'--generations must be ...'`` (the message's leading name)."""
    m = re.match(r"([a-z_]+)\b", message)
    if m and m.group(1) in _FLAGS:
        return _FLAGS[m.group(1)] + message[m.end() :]
    return message


def _cmd_retrain(args) -> int:
    from ..cli import jsonable
    from .loop import default_config, retrain

    overrides = {
        "lambdas": args.lambdas,
        "generations": args.generations,
        "n": args.n,
        "heldout": args.heldout,
        "seed": args.seed,
        "pretrain_steps": args.pretrain_steps,
        "finetune_steps": args.finetune_steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "finetune_lr": args.finetune_lr,
        "eval_samples": args.eval_samples,
        "device": args.device,
    }
    try:
        config = default_config(
            args.model, args.data, profile=args.profile, **{k: v for k, v in overrides.items() if v is not None}
        )
        if args.resume and not (Path(args.out) / "config.json").is_file():
            raise InputError(f"out {args.out!r} holds no run to resume (no config.json): drop --resume to start one")
        result = retrain(config, args.out, resume=args.resume, progress=not args.quiet, plots=not args.no_plots)
    except (InputError, RuntimeFailure) as err:  # name the flag, not the field of RetrainConfig
        raise type(err)(_flag_message(str(err))) from None
    if args.json:
        print(json.dumps(jsonable({"run_dir": str(result.run_dir), "rows": list(result.rows)})))
    else:
        print(result.summary)
    print(f"run directory: {result.run_dir}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "retrain",
        help="iteratively retrain a flow or DDPM on its own samples (the paper's protocol)",
        description="Pretrain on real data (generation 0), then for each lambda retrain on the real set "
        "plus floor(lambda n) fresh samples (or fully synthetic: replace; or accumulate), fine-tuning from "
        "the current weights, and evaluate each generation against held-out data. Resumable.",
    )
    p.add_argument("--model", choices=["flow", "ddpm"], required=True)
    p.add_argument(
        "--data", required=True, help="moons, circles, eight_gaussians, checkerboard, digits or an image file"
    )
    p.add_argument(
        "--lambda",
        dest="lambdas",
        nargs="+",
        metavar="LAMBDA",
        help="grid of numbers >= 0 and/or 'replace', 'accumulate' (default 0 0.25 0.5 1 replace)",
    )
    p.add_argument("--generations", type=int, help="retraining rounds after pretraining, >= 1")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--device", help="torch device (cpu, cuda, cuda:1, ...); default cpu")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last complete generation")
    p.add_argument("--profile", choices=["quick", "tiny"], default="quick", help="default sizes (tiny: seconds)")
    p.add_argument("--n", type=int, help="size of the real training set")
    p.add_argument("--heldout", type=float, help="held-out fraction, in (0, 1)")
    p.add_argument("--seed", type=int)
    p.add_argument("--pretrain-steps", type=int)
    p.add_argument("--finetune-steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="pretraining learning rate (cosine-annealed)")
    p.add_argument("--finetune-lr", type=float)
    p.add_argument("--eval-samples", type=int, help="model samples per evaluation (and W2 subsample size)")
    p.add_argument("--no-plots", action="store_true", help="do not save per-generation sample plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print every metrics row as one JSON object")
    p.set_defaults(func=_cmd_retrain)
