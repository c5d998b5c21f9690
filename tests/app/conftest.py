"""The browser tests' fixtures: a loopback-only network namespace and Chromium inside it (see
../shared/design/LIVE_TESTING.md); the server they talk to is ``support.browser.streamlit_server``."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from support.browser import CHROMIUM


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()} "
                           "(the browser tests need root and iproute2 for a private network namespace)")


@pytest.fixture(scope="module")
def netns(tmp_path_factory):
    """A network namespace with only loopback up; deleted afterwards."""
    if shutil.which("ip") is None:
        pytest.fail("the browser tests need iproute2 ('ip'): apt-get install iproute2")
    name = f"fc-test-{uuid.uuid4().hex[:8]}"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture(scope="module")
def chromium_in_ns(netns, tmp_path_factory) -> str:
    """An executable that starts /usr/bin/chromium inside the namespace (for Playwright's executable_path)."""
    wrapper = tmp_path_factory.mktemp("bin") / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)
