"""Every `albert-tf` command in the documents' shell blocks is one the CLI accepts.

The bundled models' READMEs say how to reproduce them, and the README's tour
is pasted line by line: a command cut short (a lost continuation line, a
renamed option) fails there only after an hour of the commands before it. Here
each file's `bash` blocks run in order in one bash, `set -u` (a variable used
before it is set fails), with `albert-tf` a stub that records its arguments and
every other program absent (bash's `command_not_found_handle`: nothing runs);
each recorded command line then goes through the CLI's own parser, and each
option given to one of the kit's scripts (`python3 scripts/...py`,
`benchmarks/...py`) must be one its `--help` lists.
"""

import glob
import os
import re
import subprocess
import sys

import pytest

from albert_tf.apps.cli import build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md"] + sorted(
    os.path.relpath(path, ROOT)
    for path in glob.glob(os.path.join(ROOT, "albert_tf", "bundled", "*", "README.md")))
FIELD, RECORD = "\x1f", "\x1e"
STUB = f"""#!/bin/bash
for arg in "${{0##*/}}" "$@"; do printf '%s{FIELD}' "$arg"; done >> "$ALBERT_TF_RECORD"
printf '{RECORD}' >> "$ALBERT_TF_RECORD"
"""
RECORDED = ("albert-tf", "python3")
SCRIPT = re.compile(r"^(scripts|benchmarks)/\w+\.py$")


def bash_blocks(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return re.findall(r"```bash\n(.*?)```", f.read(), flags=re.S)


def recorded_commands(script, tmp_path):
    """Run `script` with `albert-tf` and `python3` recorded and nothing run:
    (argvs, each with the program first, and bash's result)."""
    stubs = tmp_path / "bin"
    stubs.mkdir(parents=True)
    for program in RECORDED:
        (stubs / program).write_text(STUB)
        (stubs / program).chmod(0o755)
    record = tmp_path / "record"
    record.write_text("")
    prelude = "command_not_found_handle() { return 0; }\nset -u\n"
    result = subprocess.run(["/bin/bash", "-c", prelude + script], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60, env={"PATH": str(stubs), "HOME": str(tmp_path),
                                             "ALBERT_TF_RECORD": str(record)})
    argvs = [entry.split(FIELD)[:-1] for entry in record.read_text().split(RECORD)[:-1]]
    return argvs, result


def script_options(path):
    """The options a script's `--help` lists."""
    shown = subprocess.run([sys.executable, path, "--help"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": ROOT})
    assert shown.returncode == 0, f"{path} --help: {shown.stderr[-2000:]}"
    return set(re.findall(r"--[\w-]+", shown.stdout))


def script_errors(argvs):
    """Options given to the kit's scripts that their `--help` does not list."""
    errors, known = [], {}
    for argv in argvs:
        if argv[0] != "python3" or len(argv) < 2 or not SCRIPT.match(argv[1]):
            continue
        if argv[1] not in known:
            known[argv[1]] = script_options(argv[1])
        unknown = [arg.split("=")[0] for arg in argv[2:]
                   if arg.startswith("--") and arg.split("=")[0] not in known[argv[1]]]
        if unknown:
            errors.append(f"python3 {' '.join(argv[1:])}\n  -> not in its --help: {unknown}")
    return errors


def parse_error(argv, capsys):
    """The CLI's usage error for `argv` (as `albert-tf` would print it), or None."""
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras and not getattr(args, "passes_extra_options", False):
            parser.command_parsers[args.command].error(
                f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as stop:
        if stop.code:
            return capsys.readouterr().err.strip().splitlines()[-1]
    return None


@pytest.mark.parametrize("path", DOCUMENTS)
def test_every_documented_command_parses(path, tmp_path, capsys):
    blocks = bash_blocks(path)
    assert blocks, f"{path} has no bash block"
    script = "\n".join(blocks)
    syntax = subprocess.run(["/bin/bash", "-n", "-c", script], capture_output=True, text=True)
    assert syntax.returncode == 0, f"{path}: {syntax.stderr}"
    argvs, result = recorded_commands(script, tmp_path)
    assert "unbound variable" not in result.stderr, f"{path}: {result.stderr}"
    commands = [argv[1:] for argv in argvs if argv[0] == "albert-tf"]
    assert commands, f"{path}: no albert-tf command ran"
    errors = [f"albert-tf {' '.join(argv)}\n  -> {error}" for argv in commands
              if (error := parse_error(argv, capsys))]
    errors += script_errors(argvs)
    assert not errors, f"{path}:\n" + "\n".join(errors)


def test_a_command_cut_short_is_caught(tmp_path, capsys):
    # The fault this test exists for: a continuation line lost, so the comment
    # after it ends the command (here without its required --out).
    script = ("D=data\nalbert-tf export runs/m --recipes dynamic_int8 \\\n"
              "# the next stage\nalbert-tf predict runs/m \"a film\"\n")
    argvs, _ = recorded_commands(script, tmp_path)
    assert argvs == [["albert-tf", "export", "runs/m", "--recipes", "dynamic_int8"],
                     ["albert-tf", "predict", "runs/m", "a film"]]
    assert "--out" in parse_error(argvs[0][1:], capsys)
    assert parse_error(argvs[1][1:], capsys) is None
    argvs, result = recorded_commands("albert-tf predict $UNSET_MODEL x\n", tmp_path / "u")
    assert argvs == [] and "UNSET_MODEL: unbound variable" in result.stderr


def test_a_script_option_that_does_not_exist_is_caught(tmp_path):
    argvs, _ = recorded_commands(
        "python3 scripts/wordnet_sentences.py --out runs/wn --shard-lines 30000\n"
        "python3 scripts/wordnet_sentences.py --out runs/wn --shards 3\n", tmp_path)
    errors = script_errors(argvs)
    assert len(errors) == 1 and "['--shards']" in errors[0]
