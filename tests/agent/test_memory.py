"""The agent gives what a policy load frees back to the system (iocd.agent.memory)."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from iocd.agent.compile_policy import snapshot_policy
from iocd.agent.memory import release_memory, resident_memory, use_system_allocator
from iocd.agent.protocol import digest_of, write_snapshot
from tests.agent.test_policy_cache import indicator


def test_release_memory_runs_anywhere() -> None:
    release_memory()
    release_memory(collect=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_resident_memory_reads_the_process_status() -> None:
    found = resident_memory()
    assert set(found) == {"VmRSS", "RssAnon", "RssFile", "VmHWM"}
    assert 0 < found["RssAnon"] <= found["VmRSS"] <= found["VmHWM"]


def test_the_compile_process_allocates_arrow_memory_with_malloc() -> None:
    before = pa.default_memory_pool()
    try:
        use_system_allocator()
        assert pa.default_memory_pool().backend_name == pa.system_memory_pool().backend_name
        items = [indicator(n) for n in range(300)]
        policy = snapshot_policy(write_snapshot(items), 3, digest_of(items))
        assert sorted(policy.indicators(), key=lambda i: i.id) == items
    finally:
        pa.set_memory_pool(before)


def test_the_memory_calls_never_load_pyarrow() -> None:
    script = (
        "import sys\n"
        "from iocd.agent.memory import release_memory, use_system_allocator\n"
        "use_system_allocator()\n"
        "release_memory()\n"
        "print('pyarrow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
