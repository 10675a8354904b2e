"""Local servers run as child processes: started, awaited on their ready line, stopped by pid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path


class LocalServer:
    """A child process that prints one line matching ``ready`` once it serves."""

    def __init__(
        self,
        args: Sequence[str],
        ready: re.Pattern[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            list(args), cwd=cwd, env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        found: list[re.Match[str]] = []
        started = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                match = ready.search(line)
                if match and not found:
                    found.append(match)
                    started.set()
            started.set()  # the process ended without its ready line

        threading.Thread(target=read, daemon=True, name=f"{args[0]}-output").start()
        started.wait(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"{' '.join(args[:2])} did not start:\n" + "".join(self.lines[-20:]))
        self.ready = found[0]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM by process id, SIGKILL if it has not gone within 10 s."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
