import json
import subprocess
import sys

import pytest

from stability.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "stability", *args], capture_output=True, text=True)


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    assert "bound" in r.stdout


def test_bound_json(capsys):
    assert main(["bound", "--lambda", "0.3", "--eps", "0.05", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["factor"] == pytest.approx(0.315 / 0.685)
    assert out["contraction_guaranteed"] is True
    assert out["max_lambda"] == pytest.approx(1 / (2 * 1.05))


def test_bound_text_and_infinite_factor(capsys):
    assert main(["bound", "--lambda", "1", "--eps", "0", "--form", "paper"]) == 0
    text = capsys.readouterr().out
    assert "contraction guaranteed  no" in text
    assert main(["bound", "--lambda", "1", "--eps", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["factor"] == "inf"


@pytest.mark.slow  # one console-entry-point subprocess per case (~1.5 s each)
@pytest.mark.parametrize(
    "args,message",
    [
        (["--lambda", "-0.3", "--eps", "0.1"], "--lambda must be >= 0"),
        (["--lambda", "0.3", "--eps", "-1"], "--eps must be >= 0"),
        (["--lambda", "0.3", "--eps", "0.1", "--alpha", "0"], "--alpha must be > 0"),
        (["--lambda", "0.3", "--eps", "0.1", "--L", "nan"], "--L must be >= 0, got nan"),
        (["--lambda", "x", "--eps", "0.1"], "argument --lambda: invalid float value"),
        (["--lambda", "0.3", "--eps", "0.1", "--form", "tight"], "argument --form: invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message):
    r = run("bound", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
