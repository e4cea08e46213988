"""One daemon per data directory (an flock'd lock file naming its holder) and SIGHUP to reload sources.

The lock is an advisory `fcntl.flock` on `<data_dir>/daemon.lock`: the kernel releases it when the
process ends, however it ends, so a crashed daemon never leaves a stale lock behind. The file keeps
the holder's PID for the refusal message and for `newsingest status`. Never stops or signals anything.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

from ingest.errors import DaemonAlreadyRunning
from ingest.logs import get_logger

log = get_logger(__name__)

LOCK_NAME = "daemon.lock"


def lock_path(data_dir: Path) -> Path:
    return data_dir / LOCK_NAME


class DataDirLock:
    """`with DataDirLock(data_dir):` the directory is this process's, or DaemonAlreadyRunning is raised."""

    def __init__(self, data_dir: Path) -> None:
        self.path = lock_path(data_dir)
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DaemonAlreadyRunning(str(self.path), pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            # Emptied, not removed: removing it would let a third daemon lock a new file beside a waiting one.
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def lock_holder(data_dir: Path) -> int | None:
    """The PID of the daemon holding `data_dir`'s lock, or None when no daemon runs there."""
    path = lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def hold_reload_signal() -> None:
    """Until install_reload_signal(), a SIGHUP (`systemctl reload` while the daemon starts, which can
    wait minutes for Elasticsearch) is noted instead of ending the process, its default action. Nothing
    is lost by not reloading then: the first check of the sources file applies any edit made meanwhile."""

    def noted(_signum: int, _frame: object) -> None:
        log.info("reload_requested_during_startup", note="the sources file is checked once start-up ends")

    signal.signal(signal.SIGHUP, noted)


def stop_during_startup() -> None:
    """Until the daemon installs its own stop handling, SIGTERM or SIGINT ends start-up with exit 0
    (`systemctl stop` of a daemon still waiting for Elasticsearch is a clean stop, not a kill): no poll
    has started and no job was handed off yet, so there is nothing to drain or save."""

    def stop(signum: int, _frame: object) -> None:
        log.info("stopped_during_startup", signal=signal.Signals(signum).name)
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


def install_reload_signal(reload: Callable[[], Awaitable[bool]]) -> None:
    """SIGHUP: re-read the sources file now (the daemon also notices edits on its own within seconds)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[bool]] = set()

    def on_hup() -> None:
        log.info("reload_requested", signal="SIGHUP")
        task = loop.create_task(_reload(reload))
        pending.add(task)  # a reference until done, or the task may be collected mid-way
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)


async def _reload(reload: Callable[[], Awaitable[bool]]) -> bool:
    changed = await reload()
    if not changed:
        log.info("reload_unchanged", note="the sources file is as the daemon last read it (or was refused)")
    return changed
