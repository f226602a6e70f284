"""Every invalid input of the table (tests/invalid_inputs.py) gives its pinned one-line message.

Command lines run in this process through ``stability.cli.main``: each must exit with the pinned
status (2 invalid input, 1 runtime failure), print exactly one ``error:`` line matching the table
and no traceback, and leave every file under the cases' folder as it was (a failed start has no
side effect). Library calls must raise the pinned exception type with a one-line message.

Every case also names the argument it is about (its ``param``): a command line's error names the flag
as the user typed it (``--dim``, or the old spelling ``--d`` when that was typed), a library error the
keyword the caller used (``dim``, not an internal ``d``) — at the source, without rewriting.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from stability.cli import main

from ..invalid_inputs import api_cases, cli_cases

_TMP = Path(tempfile.mkdtemp(prefix="stability-invalid-"))


def _cleanup():
    for p in _TMP.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(_TMP, ignore_errors=True)


atexit.register(_cleanup)

CLI = cli_cases(_TMP / "cli")
API = api_cases(_TMP / "api")


def _tree(root: Path) -> dict:
    """Every path under ``root`` with its size and modification time (files) or None (folders)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out[str(p)] = None if p.is_dir() else (st.st_size, st.st_mtime_ns)
    return out


def _names(message: str, name: str) -> bool:
    """Whether ``message`` names ``name`` as a whole word (``--dim`` is not ``--dim-x``, ``d`` not ``dim``)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message) is not None


# the cases about no single argument (param None): a missing or unknown command, a sweep spec's contents
# (a key of the TOML file, named as such), a damaged file named by its path, a fit that fails on the data,
# a stationary law that does not exist for M and lambda_ together
UNNAMED = (
    "no-command",
    "unknown-command",
    "sweep-",
    "retrain-resume-",
    "api-result-store-",
    "api-retrain-chains-mixture-theta-star",
    "api-loss-model-stationary-rate",
)


def test_every_case_says_what_it_is_about():
    unnamed = [c.id for c in CLI + API if c.param is None]
    assert all(i.startswith(UNNAMED) for i in unnamed), [i for i in unnamed if not i.startswith(UNNAMED)]
    assert all(c.param.startswith("--") or c.param.isupper() or c.param == "family" for c in CLI if c.param)


def test_the_table_is_large_enough():
    assert len({c.argv for c in CLI}) == len(CLI) >= 150  # distinct command lines
    assert len({c.id for c in CLI + API}) == len(CLI) + len(API)
    assert len(API) >= 80


@pytest.mark.parametrize("case", CLI, ids=[c.id for c in CLI])
def test_cli_invalid_input(case, capsys):
    before = _tree(_TMP)
    code = main(list(case.argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ": error: " in ln]
    others = [ln for ln in lines if ln not in errors and not ln.startswith(("usage:", " "))]
    assert code == case.code, err
    assert len(errors) == 1 and not others, err
    assert re.search(case.match, errors[0]), errors[0]
    assert case.param is None or _names(errors[0], case.param), f"{case.param} is not named"
    assert _tree(_TMP) == before, "a failed command changed files"


@pytest.mark.parametrize("case", API, ids=[c.id for c in API])
def test_api_invalid_input(case):
    with pytest.raises(case.exc, match=case.match) as info:
        case.call()
    assert "\n" not in str(info.value)
    assert case.param is None or _names(str(info.value), case.param), f"{case.param} is not named"


def test_flow_parameters_refuses_an_unknown_chain(tmp_path):
    """It used to return generation 0 for any chain name."""
    import json

    from stability.experiments import flow_parameters
    from stability.experiments.runs import config_hash

    config = {"lambdas": ["0.5", "replace"]}
    (tmp_path / "config.json").write_text(json.dumps({"config": config, "hash": config_hash(config)}))
    with pytest.raises(ValueError, match=r"chain must be one of \['0.5', 'replace'\].*got 'no-such-chain'"):
        flow_parameters(tmp_path, "no-such-chain")
