"""The bench's CPU meter (row 3c's figures): CPU seconds read from /proc for a
child process and from getrusage for this one, over the block's wall time."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.harness import cpu_meter, own_cpu, process_cpu

# Waits for its stdin to close, spins 0.4 s of CPU, then sleeps until killed.
CHILD = """
import sys, time
sys.stdin.read()
end = time.process_time() + 0.4
while time.process_time() < end:
    pass
time.sleep(60)
"""


def test_a_busy_child_and_an_idle_self_are_told_apart() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, text=True)
    try:
        before = process_cpu(child.pid)
        with cpu_meter(child.pid) as busy:
            assert child.stdin is not None
            child.stdin.close()  # the child spins now
            deadline = time.monotonic() + 30
            while process_cpu(child.pid) - before < 0.39 and time.monotonic() < deadline:
                time.sleep(0.02)  # this process mostly sleeps
        assert process_cpu(child.pid) - before >= 0.39
        assert busy["server"] > 2 * busy["client"]  # the child was busy, this process was not
        assert 0 < busy["server"] <= 1.05  # one thread: at most one core
    finally:
        child.kill()
        child.wait(30)


def test_own_cpu_counts_this_process() -> None:
    start = own_cpu()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    assert own_cpu() - start >= 0.19
