"""Running the compile process (iocd.agent.compile_policy) and taking its result.

`compile_manifest(folder, manifest)` starts `python -P -m iocd.agent.compile_policy` (the same
interpreter and the same iocd as this process), hands it the job on stdin and waits: the work
that needs Arrow (decoding, verifying and compiling a snapshot, folding deltas, writing a
snapshot) happens there, and its memory goes back to the system when it exits. Then the compiled
index it wrote is mapped (iocd.agent.compiled) and its file removed at once: the mapping keeps
the data for as long as the policy lives, and nothing is left behind in the folder.

A refusal (the snapshot, a delta or the manifest does not verify) raises DigestMismatch or
ProtocolError as an in-process load would; a process that does not answer (cannot start,
crashed, killed, timed out) raises CompileFailed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import iocd
from iocd.agent.compiled import load_compiled
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.protocol import ProtocolError

__all__ = [
    "COMPILED_PREFIX",
    "MANIFEST",
    "CompileFailed",
    "Compiled",
    "Figures",
    "compile_manifest",
]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
"""The cache's manifest (iocd.agent.policy_cache), which a job without a manifest reads."""
COMPILED_PREFIX = "compiled-"
TIMEOUT = 900.0
"""Seconds a compile may take before it counts as failed."""
_counter = itertools.count()


class CompileFailed(Exception):
    """The compile process gave no answer (it could not start, crashed or timed out)."""


@dataclass(frozen=True)
class Figures:
    """What a compile cost: the compile process's peak resident memory (MiB, 0 where unknown)
    and the seconds from its start to the index mapped."""

    peak: float
    seconds: float


@dataclass(frozen=True)
class Compiled:
    """What a compile gave: the policy; the snapshot file and the number of deltas after it it
    was compiled from; the snapshot file it wrote (a rewrite) if any; what it cost."""

    policy: Policy
    base: str
    deltas: int
    snapshot: str | None
    figures: Figures


def _environment() -> dict[str, str]:
    """This environment, with the folder holding this process's iocd first on the path."""
    root = str(Path(iocd.__file__).resolve().parent.parent)
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _run(job: dict[str, Any]) -> dict[str, Any]:
    """The compile process's answer to `job`."""
    command = [sys.executable, "-P", "-m", "iocd.agent.compile_policy"]
    try:
        done = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments, no shell)
            command,
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_environment(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CompileFailed(f"compile process: {error}") from error
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise CompileFailed(f"compile process: {detail[0]}")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def compile_manifest(
    folder: Path, manifest: dict[str, Any] | None = None, *, rewrite: bool = False
) -> Compiled:
    """The policy `manifest` describes (a snapshot file in `folder` and the deltas after it;
    by default the folder's manifest file, as the compile process reads it), verified and
    compiled by the compile process, then mapped from the file it wrote."""
    out = folder / f"{COMPILED_PREFIX}{time.time_ns()}-{os.getpid()}-{next(_counter)}.npz"
    started = time.perf_counter()
    job = {"folder": str(folder), "manifest": manifest, "out": out.name, "rewrite": rewrite}
    try:
        answer = _run(job)
        if answer.get("ok"):
            part, described = load_compiled(out)
    except ValueError as error:  # an answer or a file that is not what it should be
        raise CompileFailed(f"compile process: {error}") from error
    finally:
        out.unlink(missing_ok=True)  # mapped already (or never made)
    if not answer.get("ok"):
        raise _refusal(answer)
    policy = Policy.from_part(part, int(described["sequence"]), str(described["digest"]))
    figures = Figures(float(answer.get("peak", 0.0)), time.perf_counter() - started)
    log.debug(
        "policy compiled in %.2f s (compile process peak %.0f MiB)", figures.seconds, figures.peak
    )
    base, deltas, snapshot = str(answer["base"]), int(answer["deltas"]), answer.get("snapshot")
    return Compiled(policy, base, deltas, snapshot, figures)


def _refusal(answer: dict[str, Any]) -> Exception:
    if answer.get("refused") == "digest":
        return DigestMismatch(str(answer.get("expected")), str(answer.get("found")))
    return ProtocolError(str(answer.get("message", "the policy does not verify")))
