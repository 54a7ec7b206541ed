"""One training run per workdir: a lock file that a second run refuses, naming the run that holds it.

Two runs writing one workdir interleave their checkpoints and leave a `config.json` of one run beside the
`model.keras` of the other. `WorkdirLock(workdir)` makes the second run stop at once with

  WorkdirLockedError: workdirs/shapes is in use by another training run (host gpu-3, pid 4242, started
  2026-12-04 17:30:05: python -m model_garden.train ...). Wait for it to finish or stop it, or use another
  --workdir. If no such run exists, delete workdirs/shapes/.lock.

How: the lock is `WORKDIR/.lock`, held with `fcntl.flock` for the lifetime of the run and holding the holder's
host, pid, start time and command (JSON). The kernel releases a flock when its process dies, however it dies,
so a lock file left by a killed run is *stale*: the next run takes it over with a warning naming the dead
holder. Where the file system does not support flock, the lock falls back to the file's contents: a holder on
this host whose pid no longer runs is stale; a holder on another host is taken to be alive.

Only the chief of a multi-worker run should lock (the other workers share its workdir on purpose).

Example:
  >>> with WorkdirLock("workdirs/shapes"):
  ...   train(...)
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import sys
import time
from typing import Any, Dict, Optional

from absl import logging

from model_garden.errors import UserError

try:
  import fcntl  # POSIX only.
except ImportError:  # pragma: no cover  (Windows)
  fcntl = None

LOCK_FILE = ".lock"


class WorkdirLockedError(UserError):
  """The workdir is in use by another training run."""


def _process_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # Alive, owned by another user.
    return True
  return True


def describe_holder(holder: Dict[str, Any]) -> str:
  """"host H, pid P, started T: command" of a lock's contents."""
  parts = [f"host {holder.get('host', '?')}", f"pid {holder.get('pid', '?')}"]
  if holder.get("started"):
    parts.append(f"started {holder['started']}")
  text = ", ".join(parts)
  return text + (f": {holder['command']}" if holder.get("command") else "")


class WorkdirLock:
  """Holds `workdir/.lock` while a training run writes `workdir`; a context manager (or acquire/release).

  Args:
    workdir: the run's directory (created if missing).

  Raises (on acquire):
    WorkdirLockedError: another live run holds the lock; the message names its host and pid and the fix.
  """

  def __init__(self, workdir: str):
    self.workdir = os.fspath(workdir)
    self.path = os.path.join(self.workdir, LOCK_FILE)
    self._fd: Optional[int] = None
    self.took_over: Optional[Dict[str, Any]] = None

  @property
  def held(self) -> bool:
    return self._fd is not None

  def _me(self) -> Dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": datetime.datetime.now().isoformat(sep=" ", timespec="seconds"),
            "command": " ".join(["python"] + list(getattr(sys, "orig_argv", sys.argv))[1:])[:500]}

  def _read(self, fd: int) -> Dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while True:
      chunk = os.read(fd, 65536)
      if not chunk:
        break
      data += chunk
    try:
      holder = json.loads(data.decode("utf-8")) if data.strip() else {}
    except (UnicodeDecodeError, ValueError):
      holder = {}
    return holder if isinstance(holder, dict) else {}

  def _refuse(self, holder: Dict[str, Any]):
    who = describe_holder(holder) if holder else "holder unknown"
    raise WorkdirLockedError(
        f"{self.workdir} is in use by another training run ({who}). Wait for it to finish or stop it, or use "
        f"another --workdir. If no such run exists, delete {self.path}.")

  def acquire(self) -> "WorkdirLock":
    if self._fd is not None:
      return self
    if os.path.exists(self.workdir) and not os.path.isdir(self.workdir):
      raise NotADirectoryError(errno.ENOTDIR, "is a file, not a directory; give a directory as --workdir",
                               self.workdir)
    os.makedirs(self.workdir, exist_ok=True)
    for _ in range(20):  # Retries only while another process replaces the file under us.
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        locked_by_kernel = self._flock(fd)
        if locked_by_kernel is False:
          holder = self._read(fd)
          if not holder:  # The holder locked but has not written its name yet.
            time.sleep(0.05)
            holder = self._read(fd)
          self._refuse(holder)
        # The path may have been deleted (a run releasing) between our open and our flock.
        try:
          if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
            os.close(fd)
            continue
        except FileNotFoundError:
          os.close(fd)
          continue
        previous = self._read(fd)
        if locked_by_kernel is None and previous and self._holder_alive(previous):
          self._refuse(previous)
        if previous:
          self.took_over = previous
          logging.warning("Took over the stale lock %s of a run that is no longer running (%s).", self.path,
                          describe_holder(previous))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(self._me()).encode("utf-8"))
        os.fsync(fd)
      except BaseException:
        os.close(fd)
        raise
      self._fd = fd
      return self
    raise WorkdirLockedError(f"Could not lock {self.path}: other runs keep replacing it.")

  def _flock(self, fd: int) -> Optional[bool]:
    """True: locked; False: another process holds it; None: the file system has no flock."""
    if fcntl is None:
      return None
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      return False
    except OSError as e:
      if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        return False
      return None  # ENOLCK, EOPNOTSUPP, EINVAL: no flock here; judge by the file's contents.
    return True

  def _holder_alive(self, holder: Dict[str, Any]) -> bool:
    if holder.get("host") != socket.gethostname():
      return True  # Cannot tell; a run on another host is taken to be alive.
    pid = holder.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and _process_alive(pid)

  def release(self) -> None:
    if self._fd is None:
      return
    fd, self._fd = self._fd, None
    try:
      os.unlink(self.path)  # While still holding the flock, so no other run can have locked this file.
    except FileNotFoundError:
      pass
    finally:
      os.close(fd)

  def __enter__(self) -> "WorkdirLock":
    return self.acquire()

  def __exit__(self, *exc_info) -> None:
    self.release()
