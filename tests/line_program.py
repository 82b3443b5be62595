"""A child process spoken to line by line: its stdout lines are handed over through a queue by a reader thread, so a
test blocks on the next line with a bound instead of polling."""

from __future__ import annotations

import queue
import subprocess
import threading

LINE_TIMEOUT_S = 60.0


class Program:
    """A peer with its stdout lines handed over through a queue (blocking gets with a bound: no polling)."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None, *, stdin: bool = True) -> None:
        self.process = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.lines.put(text.strip())
        self.lines.put(None)

    def line(self) -> str:
        text = self.lines.get(timeout=LINE_TIMEOUT_S)
        assert text is not None, f"{self.process.args} exited early"
        return text

    def send(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.line()

    def close(self) -> None:
        """Kills the process if it still runs and closes our ends of its pipes. Never reads them to their end: a
        process it started (COM, under Wine its services) may hold an inherited handle after it exits."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(LINE_TIMEOUT_S)
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()
