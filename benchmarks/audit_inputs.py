"""Audit of inputs (issue 20): classify what each input gives, on this checkout or any other.

    OMP_NUM_THREADS=1 python benchmarks/audit_inputs.py [--verbose] [--timeout S]
    # another checkout, read-only (the table and probes come from this file's checkout):
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/path/to/other /path/to/other/.venv/bin/python benchmarks/audit_inputs.py

Two sets of inputs:

1. **The table** of ``tests/invalid_inputs.py`` (every invalid input the project pins, issue 11's
   and issue 20's): each command line runs through ``stability.cli.main``, each library call
   directly. Verdicts: ``clear`` (the pinned exit status / exception and message), ``unclear``
   (another status, type or message, or more than one line), ``traceback`` (an exception escaped
   the command line, or a traceback was printed), ``accepted`` (a result, no word), ``hang`` (no
   answer within ``--timeout`` seconds) and ``silent wrong``: files under the cases' folder changed
   although the input was refused or accepted (a refused store modified, a run folder left behind),
   or an accepted input for which a result is wrong by construction (``SILENT_IF_ACCEPTED``: an
   invalid ``init`` that gives moments, a complex matrix cast to its real part, ...).
2. **Probes** of issue 20 that need an oracle, each with its expected behaviour computed here
   independently (a closed form, a hash of the file's bytes, the exit status): ``correct`` when
   the checkout does the right thing, ``clear`` when it refuses with one line, otherwise as above.

The address space is capped at 6 GiB (an unbounded allocation fails instead of swapping) and each
input gets ``--timeout`` seconds (default 30) of SIGALRM.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import resource
import signal
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _table_module():
    """``tests/invalid_inputs.py`` of this checkout, loaded by path (``stability`` stays whatever
    ``sys.path`` gives: another checkout through PYTHONPATH)."""
    spec = importlib.util.spec_from_file_location("audit_invalid_inputs", ROOT / "tests" / "invalid_inputs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


# table cases whose acceptance is a wrong result, not merely a missing word
SILENT_IF_ACCEPTED = (
    r"^api-family-moments-init-",
    r"complex",
    r"^api-retrain-chains-mixture-theta-star$",
    r"^api-poisson-uint64|^api-bernoulli-huge$",
    r"^sweep-rc-n",
    r"^sweep-int-float-repeat$",
    r"^sweep-zip-repeat$",
)


class _Alarm(BaseException):
    pass


def _alarm(signum, frame):
    raise _Alarm


def _snapshot(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        try:
            out[str(p)] = None if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            out[str(p)] = "unreadable"
    return out


def _cli(argv) -> tuple[int, str, str, BaseException | None]:
    from stability.cli import main

    err, out = io.StringIO(), io.StringIO()
    exc = None
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except _Alarm:
        raise
    except BaseException as e:  # noqa: BLE001 - counting what escapes
        code, exc = -1, e
    return code, out.getvalue(), err.getvalue(), exc


def run_cli_case(case) -> tuple[str, str]:
    code, out, err, exc = _cli(case.argv)
    if exc is not None:
        return "traceback", f"{type(exc).__name__}: {str(exc)[:150]}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if "Traceback" in err:
        return "traceback", lines[-1] if lines else ""
    if code == 0:
        return "accepted", out[:100].replace("\n", " | ")
    msg = lines[-1] if lines else ""
    usage = [ln for ln in lines if not ln.startswith("usage:") and not ln.startswith(" ")]
    if code != case.code or len(usage) != 1 or not re.search(case.match, msg):
        return "unclear", f"[exit {code}] {msg[:200]}"
    return "clear", msg


def run_api_case(case) -> tuple[str, str]:
    try:
        case.call()
    except _Alarm:
        raise
    except BaseException as e:  # noqa: BLE001
        msg = str(e).splitlines()[0] if str(e) else ""
        if isinstance(e, case.exc) and re.search(case.match, str(e)) and "\n" not in str(e):
            return "clear", f"{type(e).__name__}: {msg}"
        if isinstance(e, (MemoryError, RecursionError)) or type(e).__name__ in ("KeyError", "TypeError", "IndexError"):
            return "traceback", f"{type(e).__name__}: {msg[:200]}"
        return "unclear", f"{type(e).__name__}: {msg[:200]}"
    return "accepted", ""


# ---------------------------------------------------------------- probes with an oracle


def _spec_file(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text)
    return p


def _one_line_refusal(code: int, err: str, exc) -> tuple[str, str] | None:
    if exc is not None or "Traceback" in err:
        return "traceback", str(exc or err.splitlines()[-1])[:200]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if code not in (0,) and len(lines) == 1:
        return "clear", lines[0][:200]
    if code != 0:
        return "unclear", f"[exit {code}] {' | '.join(lines)[:200]}"
    return None


SIM = 'task = "simulate"\n[base]\nfamily = "gaussian"\nn = 10\ngenerations = 1\nchains = 2\n'


def probe_data_file_edit(tmp: Path):
    """Editing the data file behind an analyze task and re-running must run the task again."""
    np.save(tmp / "x.npy", np.random.default_rng(0).standard_normal(100))
    spec = _spec_file(tmp, "a.toml", "task = 'analyze'\n[base]\nmodel = 'gaussian'\ndata = 'x.npy'\nlambda_ = 0.5\n")
    _cli(["sweep", str(spec), "--serial", "--json"])
    np.save(tmp / "x.npy", 5.0 * np.random.default_rng(1).standard_normal(100))
    code, out, err, exc = _cli(["sweep", str(spec), "--serial", "--json"])
    if exc is not None:
        return "traceback", str(exc)[:200]
    done = json.loads(out.strip().splitlines()[-1])["done"]
    return ("correct", "re-ran the task") if done == 1 else ("silent wrong", "skipped: kept the old numbers")


def probe_base_edit_load(tmp: Path):
    """Editing [base] and re-running: load() must not mix the two configurations without a word."""
    from stability.sweeps import load

    spec = _spec_file(tmp, "b.toml", SIM.replace("n = 10", "n = 10") + "[grid]\nlambda_ = [0.5, 1.0]\n")
    _cli(["sweep", str(spec), "--serial", "--json"])
    spec.write_text(SIM.replace("n = 10", "n = 20") + "[grid]\nlambda_ = [0.5, 1.0]\n")
    _cli(["sweep", str(spec), "--serial", "--json"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = load(tmp / "b.sqlite")
    ns = sorted(r["args"]["n"] for r in rows)
    if ns == [20, 20]:
        said = any("configuration" in str(w.message) for w in caught)
        return ("correct" if said else "accepted"), f"rows of the current spec only{' (warned)' if said else ''}"
    return "silent wrong", f"load() mixed configurations: n = {ns}"


def probe_int_float_one_task(tmp: Path):
    """lambda_ = 1 and lambda_ = 1.0 are the same task (same id, same seed)."""
    from stability.sweeps import parse_spec

    base = {"family": "gaussian", "n": 10, "generations": 1, "chains": 2}
    a = parse_spec({"task": "simulate", "base": base | {"lambda_": 1}})
    b = parse_spec({"task": "simulate", "base": base | {"lambda_": 1.0}})
    same = a.tasks[0].task_id == b.tasks[0].task_id
    return ("correct", "one task") if same else ("silent wrong", "two tasks with different seeds")


def probe_sys_exit_task(tmp: Path):
    """A task calling sys.exit must be a failed task (exit 1), not an exit 0 without output."""
    (tmp / "audit_exit_task.py").write_text("import sys\ndef quits(x: float = 0.0, seed: int = 0):\n    sys.exit(0)\n")
    sys.path.insert(0, str(tmp))
    try:
        spec = _spec_file(tmp, "q.toml", "task = 'audit_exit_task:quits'\n[grid]\nx = [1.0, 2.0]\n")
        code, out, err, exc = _cli(["sweep", str(spec), "--serial"])
    finally:
        sys.path.remove(str(tmp))
    if exc is not None:
        return "traceback", str(exc)[:200]
    if code == 0:
        return "silent wrong", f"exit 0, output {out.strip()[:80]!r}"
    return ("correct" if "failed" in out else "unclear"), f"exit {code}: {out.strip().splitlines()[-1][:150]}"


def probe_two_drivers(tmp: Path):
    """A second driver on a store that a running driver holds must not run every task again."""
    from stability.sweeps import ResultStore, parse_spec, run_sweep

    base = {"family": "gaussian", "n": 10, "generations": 1, "chains": 2}
    spec = parse_spec({"task": "simulate", "store": str(tmp / "t.sqlite"), "base": base, "grid": {"lambda_": [0.5]}})
    holder = ResultStore(spec.store)
    try:
        summary = run_sweep(spec, serial=True)
    except Exception as e:  # noqa: BLE001
        msg = str(e)
        return ("clear" if "driver" in msg and "\n" not in msg else "unclear"), f"{type(e).__name__}: {msg[:150]}"
    finally:
        holder.close()
    return "silent wrong", f"the second driver ran {summary.done} task(s) without a word"


def probe_simulate_out(tmp: Path):
    """simulate --out writes every field (real_fraction, real_mean / real_cov, the seed) with the umask's mode."""
    out = tmp / "r.npz"
    old = os.umask(0o022)
    try:
        code, _, err, exc = _cli(
            ["simulate", "gaussian", "--n", "10", "--lambda", "0.5", "--generations", "2", "--chains", "3"]
            + ["--scheme", "fresh-fraction", "--real-fraction", "0.5", "--seed", "7", "--out", str(out), "--quiet"]
        )
    finally:
        os.umask(old)
    if exc is not None or code != 0:
        return "traceback" if exc else "unclear", str(exc or err)[:200]
    with np.load(out) as z:
        missing = [k for k in ("real_fraction", "seed") if k not in z.files]
        seed_ok = "seed" in z.files and int(z["seed"]) == 7
    mode = out.stat().st_mode & 0o777
    bad = missing + ([f"mode {mode:o}"] if mode != 0o644 else []) + ([] if seed_ok or "seed" in missing else ["seed"])
    code, _, _, _ = _cli(
        ["simulate", "gaussian", "--n", "10", "--lambda", "0.5", "--generations", "2", "--chains", "3"]
        + ["--out", str(tmp / "f.npz"), "--quiet"]
    )
    with np.load(tmp / "f.npz") as z:
        bad += [k for k in ("real_mean", "real_cov") if k not in z.files]
    return ("correct", "every field, mode 644") if not bad else ("silent wrong", f"missing/wrong: {bad}")


def probe_optimal_weight_tiny(tmp: Path):
    """optimal_synthetic_weight(1e-20): (sqrt(1+4l)-1)/(sqrt(1+4l)+1) = l - 2 l^2 + ... ~ 1e-20."""
    import stability

    got = stability.optimal_synthetic_weight(1e-20)
    ok = abs(got - 1e-20) <= 1e-12 * 1e-20
    return ("correct", f"{got:.6g}") if ok else ("silent wrong", f"{got!r} (expected 1e-20)")


def _norm2_probe(data, label):
    import stability

    r = stability.analyze("gaussian", data, 0.5)
    ok = abs(r.norm2 - 1 / 3) <= 1e-9  # A = B: J = lambda / (1 + lambda) I exactly, in every basis
    return ("correct", f"{label}: ||J||_2 = {r.norm2:.12g}") if ok else ("silent wrong", f"{label}: {r.norm2:.6g}")


def probe_uint64_norm(tmp: Path):
    rng = np.random.default_rng(0)
    x = np.uint64(2**64 - 2**20) + rng.integers(0, 2**16, 200).astype(np.uint64)
    return _norm2_probe(x, "uint64 near 2^64")


def probe_shifted_norm(tmp: Path):
    return _norm2_probe(1e12 + np.random.default_rng(0).standard_normal(200), "1e12 + N(0,1)")


def probe_family_moments_valid_init(tmp: Path):
    """Control: a valid init still gives the closed form (Poisson, scheme replace: Var grows by rate/n a round)."""
    from stability.dynamics import family_moments

    p = family_moments("poisson", n=10, lambda_=float("inf"), generations=3, scheme="replace", init=2.0)
    want = np.array([0.0, 0.2, 0.4, 0.6])  # Var(eta_t) = t * rate / n, E[eta_t] = 2 (a martingale)
    ok = np.allclose(p.cov_mean[:, 0, 0], want, rtol=1e-12) and np.allclose(p.mean[:, 0], 2.0)
    return ("correct", "Var = t rate / n") if ok else ("silent wrong", f"{p.cov_mean[:, 0, 0]}")


def probe_valid_sweep(tmp: Path):
    """Control: a plain sweep runs, and its store reads back."""
    from stability.sweeps import load

    spec = _spec_file(tmp, "v.toml", SIM + "[grid]\nlambda_ = [0.5, 1.0]\n")
    code, out, err, exc = _cli(["sweep", str(spec), "--serial", "--json"])
    if exc is not None or code != 0:
        return "unclear", f"[exit {code}] {err.strip()[:150]}"
    return ("correct", "2 rows") if len(load(tmp / "v.sqlite")) == 2 else ("silent wrong", "rows missing")


PROBES = [
    probe_data_file_edit,
    probe_base_edit_load,
    probe_int_float_one_task,
    probe_sys_exit_task,
    probe_two_drivers,
    probe_simulate_out,
    probe_optimal_weight_tiny,
    probe_uint64_norm,
    probe_shifted_norm,
    probe_family_moments_valid_init,
    probe_valid_sweep,
]


# ---------------------------------------------------------------- driver


VERDICTS = ("clear", "correct", "unclear", "traceback", "silent wrong", "hang", "accepted")


def _timed(fn, timeout: int) -> tuple[str, str]:
    signal.alarm(timeout)
    try:
        return fn()
    except _Alarm:
        return "hang", f"no answer within {timeout} s"
    except BaseException as e:  # noqa: BLE001
        return "traceback", "".join(traceback.format_exception_only(e)).strip()[:200]
    finally:
        signal.alarm(0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every input, not only the non-clear ones")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per input before it counts as a hang")
    parser.add_argument("--json", metavar="FILE", help="write every verdict to this JSON file")
    args = parser.parse_args(argv)
    cap = 6 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGALRM, _alarm)
    warnings.simplefilter("ignore")
    import stability

    print(f"stability {stability.__version__} from {Path(stability.__file__).parent}", flush=True)
    table = _table_module()
    counts, records = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            groups = [
                ("cli", table.cli_cases(tmp / "cli"), run_cli_case),
                ("api", table.api_cases(tmp / "api"), run_api_case),
            ]
            for kind, cases, runner in groups:
                c = Counter()
                for case in cases:
                    before = _snapshot(tmp)
                    verdict, msg = _timed(lambda runner=runner, case=case: runner(case), args.timeout)
                    changed = sorted(set(_snapshot(tmp).items()) ^ set(before.items()))
                    if changed and verdict != "hang":
                        verdict, msg = "silent wrong", f"changed {Path(changed[0][0]).name}; {msg}"
                    elif verdict == "accepted" and any(re.search(p, case.id) for p in SILENT_IF_ACCEPTED):
                        verdict = "silent wrong"
                    c[verdict] += 1
                    records.append({"set": kind, "id": case.id, "verdict": verdict, "message": msg})
                    if args.verbose or verdict != "clear":
                        print(f"{kind} {verdict:12s} {case.id}: {msg}", flush=True)
                counts[kind] = c
            c = Counter()
            for probe in PROBES:
                folder = tmp / "probes" / probe.__name__
                folder.mkdir(parents=True)
                verdict, msg = _timed(lambda probe=probe, folder=folder: probe(folder), args.timeout)
                c[verdict] += 1
                records.append({"set": "probe", "id": probe.__name__, "verdict": verdict, "message": msg})
                if args.verbose or verdict not in ("clear", "correct"):
                    print(f"probe {verdict:12s} {probe.__name__}: {msg}", flush=True)
            counts["probes"] = c
        finally:
            for p in tmp.rglob("*"):
                if p.is_dir():
                    p.chmod(0o755)
    print()
    head = f"{'':7s} {'inputs':>6s} " + " ".join(f"{v:>12s}" for v in VERDICTS)
    print(head)
    total = Counter()
    for kind, c in counts.items():
        total.update(c)
        print(f"{kind:7s} {sum(c.values()):6d} " + " ".join(f"{c[v]:12d}" for v in VERDICTS))
    print(f"{'all':7s} {sum(total.values()):6d} " + " ".join(f"{total[v]:12d}" for v in VERDICTS))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
