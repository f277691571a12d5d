"""Starts `transformers serve` (its own CLI, arguments passed through) in a process that dies with its parent,
however the parent dies (PR_SET_PDEATHSIG on Linux): a managed server never outlives the harness.

Usage: python launch_server.py serve <model dir> --host 127.0.0.1 --port N ...
"""

import os
import signal
import sys


def _die_with_parent():
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl
            os._exit(70)
    except OSError:
        pass


def _pin_cpus():
    """EFFBENCH_SERVE_LEAVE_CPUS=n: the server leaves the first n CPUs of its affinity set to the load generator and
    runs on the rest (Linux; elsewhere the thread count alone applies)."""
    leave = int(os.environ.get("EFFBENCH_SERVE_LEAVE_CPUS", "0"))
    if leave and hasattr(os, "sched_getaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) > leave:
            os.sched_setaffinity(0, set(allowed[leave:]))


if __name__ == "__main__":
    _die_with_parent()
    _pin_cpus()
    from transformers.cli.transformers import app

    sys.argv = ["transformers", *sys.argv[1:]]
    app()
