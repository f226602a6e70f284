"""``stability gpu-validation``: the image-scale retraining check in one resumable, time-boxed call.

Example (what ``make gpu-validation`` runs; the same path on a CPU with ``--profile tiny --device cpu``)::

    stability gpu-validation --data mnist10k.npz --out results/gpu --device cuda --time-budget 480

A call starts the run or continues it; it stops cleanly before the time budget (exit status 0, a
line saying what remains) and the same command continues it. See
:mod:`stability.experiments.gpu_validation`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .._domains import Interval
from ._options import add_device, add_json, add_out, add_quiet, add_seed, integer, number, progress

__all__ = ["register"]

_STARTED = time.perf_counter()  # the command's clock starts when the program loads this module


def _cmd(args: argparse.Namespace) -> int:
    # each option's dest is the parameter of gpu_validation.run it sets: a library error's param names the flag
    from .._optional import require

    require("torch", "the deep experiments (stability gpu-validation)", "experiments")
    from ..experiments import gpu_validation as gv

    device = args.device or "cuda"
    if args.plan or args.measure:
        overrides = {} if args.generations is None else {"generations": args.generations}
        config = gv.config_for(args.data, args.profile, device, **overrides)
        out = gv.measure(config, gv._shape(args.data)) if args.measure else gv.plan(config, gv._shape(args.data))
        print(json.dumps(out, indent=1))
        return 0
    result = gv.run(
        args.data,
        args.out,
        args.profile,
        device,
        args.time_budget,
        generations=args.generations,
        seed=args.seed,
        progress=progress(args),
        command=" ".join(["stability", *sys.argv[1:]]) if sys.argv[1:2] == ["gpu-validation"] else None,
        commit=args.commit,
        started=_STARTED,
    )
    if args.json:
        info = {"run_dir": str(result.run_dir), "complete": result.complete, "remaining": result.remaining}
        print(json.dumps({**info, "seconds": result.seconds, "message": result.message}))
    else:
        print(result.message)
    return 0


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "gpu-validation",
        help="image-scale retraining check (DDPM on an image file, lambda 0 0.5 1 replace), resumable and time-boxed",
        description="Pretrain a U-Net DDPM on an image file, retrain it on its own samples for lambda in "
        "{0, 0.5, 1, replace}, and score every generation (Fréchet distance, precision, recall) against held-out "
        "images. Starts the run in OUT/ddpm_<data> or continues it; stops cleanly before --time-budget.",
    )
    p.add_argument("--data", required=True, help="an image file (.npz with 'images' and 'labels', IDX) or digits")
    add_out(p, help="folder of the run (the run goes in OUT/ddpm_<data file stem>)", required=True)
    p.add_argument("--profile", choices=["gpu", "tiny"], default="gpu", help="sizes (tiny: the same path in seconds)")
    add_device(p)
    p.set_defaults(device=None)
    next(a for a in p._actions if a.dest == "device").help = "torch device (cuda, cuda:1, cpu, ...); default cuda"
    p.add_argument(
        "--time-budget",
        type=number("--time-budget", Interval(0.0, low_closed=False)),
        help="seconds this call may take, counted from its start (default: 480 for gpu, none for tiny)",
    )
    p.add_argument(
        "--generations",
        type=integer("--generations", Interval(1, integer=True)),
        help="override the profile's generations (10 for gpu)",
    )
    add_seed(p, help="seed (default 0)", default=0)
    p.add_argument("--commit", help="the git commit to record (default: git rev-parse, where .git is present)")
    p.add_argument("--plan", action="store_true", help="print the run's FLOP counts and exit (no training)")
    p.add_argument(
        "--measure",
        action="store_true",
        help="time a few training steps and denoiser calls on --device, print the achieved FLOP/s and the "
        "predicted run time, and exit (seconds; nothing written)",
    )
    add_quiet(p)
    add_json(p, help="print the outcome as one JSON object (implies --quiet)")
    p.set_defaults(func=_cmd)
    return p
