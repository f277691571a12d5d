"""The torch worker (docs/torch-runner.md): one process per repeat index, serving that repeat of every case.

JSON lines over stdio. The first line is a handshake with the protocol version and library versions; then
one request per line, each answered by one reply with the request's id:

  {"id": n, "type": "run", "case": {...}, "repeat": r, "weightsPath": "...safetensors", "fidelityInputIds": [[...]]?}
      -> {"id": n, "type": "window", "phase": "measure-start" | "measure-end"}   (zero or two of these)
      -> {"id": n, "type": "result", "outcome": RepeatOutcome}
  {"id": n, "type": "forward", "case": {...}, "weightsPath": "...", "inputIds": [[...]]}
      -> {"id": n, "type": "logits", "shape": [...], "data": [...], "counts": {...}, "routing": {layer: [T·k experts]} | null}
  {"id": n, "type": "step-logits", "case": {...}, "weightsPath": "..."}
      -> {"id": n, "type": "logits", "shape": [batch, vocab], "data": [...]}   (the timed step's logits in the case's mode)
  {"id": n, "type": "calibrate-gpu"}
      -> {"id": n, "type": "calibration", "calibration": {"gpus": [{uuid, copyBytesPerS, bf16FlopsPerS, ...}]}}
  {"id": n, "type": "inspect", "case": {...}}
      -> {"id": n, "type": "counts", "counts": {...}}   (meta device: no weights allocated)
  errors  -> {"id": n, "type": "error", "message": "...", "traceback": "..."}

Nothing else ever goes to stdout: stray prints of libraries go to stderr. The worker exits on stdin EOF, and on
Linux dies with its parent (PR_SET_PDEATHSIG).
"""

import json
import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the worker in the source tree
import time
import traceback

PROTOCOL_VERSION = 1

# Grab the real stdout for protocol lines, then send everything else (library prints, warnings) to stderr.
_protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
sys.stdout = sys.stderr


def _die_with_parent():
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died between fork and prctl: then we were re-parented already.
        if os.getppid() == 1:
            os._exit(70)
    except OSError:
        pass


_die_with_parent()


def send(message):
    _protocol_out.write(json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n")
    _protocol_out.flush()


def hello():
    import platform

    import peft
    import torch
    import transformers

    devices = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            uuid = getattr(props, "uuid", None)
            devices.append(
                {
                    "index": index,
                    "name": props.name,
                    "capability": f"{props.major}.{props.minor}",
                    "uuid": f"GPU-{uuid}" if uuid is not None and not str(uuid).startswith("GPU-") else (str(uuid) if uuid else None),
                    "memoryBytes": int(props.total_memory),
                }
            )
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "cudaRuntime": torch.version.cuda,
        "cuda": devices,
        "threads": torch.get_num_threads(),
        "pid": os.getpid(),
    }


def inject_test_fault(case):
    """Test-only fault injection, the twin of the ort child's: EFFBENCH_TEST_FAULT=throw|exit|segv|hang|alloc|garbage,
    limited to cases whose name contains EFFBENCH_TEST_FAULT_FILTER when set; or a list `exit=name1,hang=name2`
    (a fault per name fragment). Never set in real runs."""
    spec = os.environ.get("EFFBENCH_TEST_FAULT")
    if not spec:
        return
    name = case.get("name", "")
    if "=" in spec:
        faults = [pair.split("=", 1) for pair in spec.split(",") if "=" in pair]
        fault = next((kind for kind, fragment in faults if fragment and fragment in name), None)
    else:
        name_filter = os.environ.get("EFFBENCH_TEST_FAULT_FILTER")
        fault = None if name_filter and name_filter not in name else spec
    if fault == "throw":
        raise RuntimeError("injected fault (EFFBENCH_TEST_FAULT=throw)")
    if fault == "exit":
        os._exit(3)
    if fault == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "hang":
        while True:
            time.sleep(1)
    if fault == "alloc":
        hog = []
        while True:
            hog.append(bytearray(b"\x01") * (64 * 2**20))  # touched pages: resident, unlike calloc
    if fault == "garbage":
        _protocol_out.write("this is not JSON\n")
        _protocol_out.flush()


def handle(request):
    kind = request.get("type")
    rid = request.get("id")
    if kind == "run":
        import scenarios

        inject_test_fault(request["case"])
        on_window = lambda phase: send({"id": rid, "type": "window", "phase": phase})
        outcome = scenarios.run_repeat(request["case"], request.get("repeat", 0), request.get("weightsPath"), on_window, request.get("fidelityInputIds"), request.get("baseWeightsPath"))
        send({"id": rid, "type": "result", "outcome": outcome})
    elif kind == "forward":
        import scenarios

        shape, data, counts, routing = scenarios.forward_logits(request["case"], request.get("weightsPath"), request["inputIds"])
        send({"id": rid, "type": "logits", "shape": shape, "data": data, "counts": counts, "routing": routing})
    elif kind == "step-logits":
        import scenarios

        shape, data = scenarios.step_logits(request["case"], request.get("weightsPath"))
        send({"id": rid, "type": "logits", "shape": shape, "data": data})
    elif kind == "calibrate-gpu":
        import calibrate_gpu

        uuids = {d["index"]: d["uuid"] for d in hello()["cuda"]}
        send({"id": rid, "type": "calibration", "calibration": calibrate_gpu.calibrate(lambda i: uuids.get(i))})
    elif kind == "inspect":
        import scenarios

        send({"id": rid, "type": "counts", "counts": scenarios.inspect_counts(request["case"])})
    elif kind == "ping":
        send({"id": rid, "type": "pong", "t": time.perf_counter()})
    else:
        raise ValueError(f"unknown request type {kind!r}")


def main():
    send(hello())
    if "--hello" in sys.argv:
        return
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            request = json.loads(line)
            rid = request.get("id")
            handle(request)
        except Exception as error:  # a case's own failure: reported, the worker lives on
            send({"id": rid, "type": "error", "message": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
