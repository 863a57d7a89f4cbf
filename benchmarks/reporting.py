"""What every benchmark here starts and ends with: its command line, the machine
it ran on, and one JSON report.

Latencies differ several-fold between machines (the same int8 file took 262 ms on
a Zen 3 without VNNI and 68 ms on a Zen 4 with it), so every report carries the
CPU model and the flags that decide which kernels run, and only ratios measured in
one report should be compared. Scripts import this as ``from reporting import ...``:
run as ``python benchmarks/NAME.py``, this folder is first on ``sys.path``.
"""

import argparse
import json
import os
import platform
import subprocess

# The flags that pick XNNPACK's and oneDNN's int8 / bf16 kernels.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
                "amx_int8", "asimddp", "i8mm")


def benchmark_parser(doc):
    """The command line of a benchmark: its docstring's first paragraph as the
    description, every default shown in --help."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def machine():
    """CPU model, the kernel-deciding flags, core count and Python, from ``lscpu``."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"model": platform.processor() or platform.machine(), "flags": [],
                "cores": os.cpu_count(), "python": platform.python_version()}
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    # The family and model numbers tell CPU generations apart where the name does
    # not ("AMD EPYC": family 25 is Zen 3/4, 26 is Zen 5).
    return {"model": fields.get("Model name", "").strip(),
            "family": fields.get("CPU family", "").strip(),
            "model_number": fields.get("Model", "").strip(),
            "flags": [f for f in KERNEL_FLAGS if f in flags], "cores": os.cpu_count(),
            "python": platform.python_version()}


def emit(report, out=None):
    """Print ``report`` as JSON on stdout and, given ``out``, write ``out/report.json``."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
