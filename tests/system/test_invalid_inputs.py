"""Every invalid input of the table (tests/invalid_inputs.py) gives its pinned one-line message.

Command lines run in this process through ``stability.cli.main``: each must exit with the pinned
status (2 invalid input, 1 runtime failure), print exactly one ``error:`` line matching the table
and no traceback, and leave every file under the cases' folder as it was (a failed start has no
side effect). Library calls must raise the pinned exception type with a one-line message.
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
    assert _tree(_TMP) == before, "a failed command changed files"


@pytest.mark.parametrize("case", API, ids=[c.id for c in API])
def test_api_invalid_input(case):
    with pytest.raises(case.exc, match=case.match) as info:
        case.call()
    assert "\n" not in str(info.value)


def test_flow_parameters_refuses_an_unknown_chain(tmp_path):
    """It used to return generation 0 for any chain name."""
    import json

    from stability.experiments import flow_parameters
    from stability.experiments.runs import config_hash

    config = {"lambdas": ["0.5", "replace"]}
    (tmp_path / "config.json").write_text(json.dumps({"config": config, "hash": config_hash(config)}))
    with pytest.raises(ValueError, match=r"chain must be one of \['0.5', 'replace'\].*got 'no-such-chain'"):
        flow_parameters(tmp_path, "no-such-chain")
