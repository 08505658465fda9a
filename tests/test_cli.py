"""The command line (§8): ``info``, ``explain``, ``--help``; a user error prints
one line on stderr and exits 2.  A few runs in a real subprocess
(``python -m ndconv``), the rest through ``ndconv.cli.main`` in process."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ndconv
from ndconv import cli


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ndconv", *args], capture_output=True, text=True, timeout=120,
                          check=False)


# ------------------------------------------------------------------ subprocess

def test_info_subprocess():
    proc = run("info")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"ndconv {ndconv.__version__}"
    for word in ("python", "cpus:", "engines:", "numpy", "scipy", "numba", "methods: direct, fft"):
        assert word in proc.stdout
    assert proc.stderr == ""


def test_explain_subprocess():
    proc = run("explain", "3,1,2", "3,2,1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ndconv.explain([3, 1, 2], [3, 2, 1]) + "\n"
    assert proc.stdout.splitlines()[-1].split() == ["y:", "9", "9", "11", "5", "2"]


def test_help_subprocess():
    proc = run("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: ndconv")
    for command in ("info", "explain", "bench", "train", "filter", "match"):
        assert command in proc.stdout


@pytest.mark.parametrize("args", [("explain", "1,a", "2"), ("nonsense",), ()])
def test_user_error_subprocess(args):
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ in process

def main(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["info", "explain", "bench", "train", "filter", "match"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: ndconv {command}")


def test_explain_options(capsys):
    code, out, err = main(capsys, "explain", "3,1,2", "3,2,1", "--mode", "same")
    assert (code, err) == (0, "")
    assert out == ndconv.explain([3, 1, 2], [3, 2, 1], mode="same") + "\n"
    code, out, _ = main(capsys, "explain", "1,2,3,4,5", "2,1", "--mode", "valid", "--correlate")
    assert code == 0 and out.splitlines()[-1].split() == ["y:", "4", "7", "10", "13"]


def test_explain_numbers(capsys):
    code, out, _ = main(capsys, "explain", "0.5,1.25", "2,4")
    assert code == 0 and out.splitlines()[-1].split() == ["y:", "1", "4.5", "5"]
    code, out, _ = main(capsys, "explain", "-1,2", "-3")          # negative numbers are not options
    assert code == 0 and out.splitlines()[-1].split() == ["y:", "3", "-6"]
    code, out, _ = main(capsys, "explain", "1, 2", "1")           # spaces are tolerated
    assert code == 0 and out.splitlines()[-1].split() == ["y:", "1", "2"]
    code, out, _ = main(capsys, "explain", "1, 2,", "1")          # and one trailing comma
    assert code == 0 and out.splitlines()[-1].split() == ["y:", "1", "2"]


@pytest.mark.parametrize(("args", "message"), [
    ((), "the following arguments are required: command"),
    (("bogus",), "invalid choice: 'bogus'"),
    (("explain",), "the following arguments are required: X, H"),
    (("explain", "1,a", "2"), "X must be comma-separated numbers, got '1,a'"),
    (("explain", "1,2", ""), "H must be comma-separated numbers, got ''"),
    (("explain", "1,2", ","), "H must be comma-separated numbers, got ','"),
    (("explain", "1,,2", "1"), "X must be comma-separated numbers without empty items, got '1,,2'"),
    (("explain", "1,2", ",3"), "H must be comma-separated numbers without empty items, got ',3'"),
    (("explain", "1,2", "3", "--mode", "sam"), "invalid choice: 'sam'"),
    (("explain", "1,2", "1,2,3", "--mode", "valid"), "mode='valid' needs the dilated kernel to fit"),
    (("explain", ",".join(["1"] * 2000), "1,2,3"), "x of 2000 and h of 3 samples give 2005 rows × 2004 columns"),
    (("info", "--bogus"), "unrecognized arguments: --bogus"),
])
def test_user_errors_print_one_line_and_exit_2(capsys, args, message):
    code, out, err = main(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert message in err
    assert err.startswith(("ndconv", "X ", "H "))
