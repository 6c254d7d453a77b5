"""Run a command and print its wall time (s) and peak RSS (MB) as two numbers.

A child forked from a large process inherits that process's peak RSS in the kernel's
accounting, so the benchmark starts this small launcher first and lets it fork the real
command: the figure it prints is the command's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(cmd: list[str]) -> int:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    print(f"{wall:.6f} {usage.ru_maxrss / 1024:.1f}")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
