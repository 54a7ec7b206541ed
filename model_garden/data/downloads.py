"""Failing fast offline: a reachability probe for download hosts, and removing what a failed download left.

tfds retries an unreachable URL with exponential back-off (urllib3, 10 retries): offline, a dataset that
needs a download fails after about 3.5 minutes and leaves empty directories and `*.tmp.*` download
folders behind. `guard_downloads` makes the builder probe each download host once (DNS and a TCP
connection, a few seconds at most) before tfds starts its retries, and `leftovers_since` /
`remove_leftovers` clean up after a failed attempt. Datasets that download nothing (mg_shapes) never
touch the network.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import urllib.parse
import urllib.request
from typing import Callable, Dict, Iterable, Optional, Set, Tuple

PROBE_TIMEOUT_S = 3.0  # Per step (DNS lookup, TCP connect): a probe answers within 2 x this.
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


class NetworkUnreachableError(ConnectionError):
  """A download host (or the proxy in front of it) does not answer."""


def endpoint(url: str) -> Tuple[str, int]:
  """(host, port) a download of `url` connects to: the proxy's when one applies, else the URL's own."""
  parsed = urllib.parse.urlsplit(url)
  scheme = parsed.scheme.lower() or "https"
  host = parsed.hostname or ""
  proxy = urllib.request.getproxies().get(scheme)
  if proxy and host and not urllib.request.proxy_bypass(host):
    proxied = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return proxied.hostname or "", proxied.port or 8080
  return host, parsed.port or _DEFAULT_PORTS.get(scheme, 443)


def probe_host(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> Optional[str]:
  """None when a TCP connection to host:port opens within `timeout`, else one line saying why not."""
  if not host:
    return "the URL has no host"
  found: Dict[str, object] = {}

  def resolve():
    try:
      found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
      found["error"] = e

  # getaddrinfo has no timeout of its own (a resolver that never answers blocks for 20 s or more).
  thread = threading.Thread(target=resolve, daemon=True)
  thread.start()
  thread.join(timeout)
  if thread.is_alive():
    return f"looking up {host} took over {timeout:g} s"
  if "error" in found:
    return f"cannot resolve {host} ({found['error']})"
  family, kind, proto, _, address = found["addresses"][0]
  with socket.socket(family, kind, proto) as sock:
    sock.settimeout(timeout)
    try:
      sock.connect(address)
    except OSError as e:
      return f"cannot connect to {host}:{port} ({e or type(e).__name__})"
  return None


def guard_downloads(builder, probe: Optional[Callable[[str, int], Optional[str]]] = None) -> bool:
  """Makes `builder.download_and_prepare` probe each download host once before downloading from it.

  An unreachable host raises `NetworkUnreachableError` at once instead of after tfds' retries. Files
  already in the download cache are not downloaded, so they are not probed either.

  Args:
    builder: a tfds builder, before `download_and_prepare`.
    probe: (host, port) -> None if reachable, else why not; default `probe_host`.

  Returns:
    False if this tfds version has no download-manager hook to wrap (then tfds' own retries apply).
  """
  probe = probe or probe_host
  make_manager = getattr(builder, "_make_download_manager", None)
  if make_manager is None:
    return False
  answers: Dict[Tuple[str, int], Optional[str]] = {}

  def check(url: str):
    host, port = endpoint(url)
    if (host, port) not in answers:
      answers[(host, port)] = probe(host, port)
    if answers[(host, port)]:
      raise NetworkUnreachableError(f"{url} cannot be downloaded: {answers[(host, port)]}")

  def make_guarded_manager(*args, **kwargs):
    manager = make_manager(*args, **kwargs)
    download = getattr(manager, "_download", None)
    if download is not None:
      def probed_download(resource, *a, **kw):
        check(getattr(resource, "url", str(resource)))
        return download(resource, *a, **kw)
      manager._download = probed_download  # pylint: disable=protected-access
    return manager

  builder._make_download_manager = make_guarded_manager  # pylint: disable=protected-access
  return True


def _is_partial(name: str) -> bool:
  # tfds downloads into "<file>.tmp.<hex>" and writes prepared data into "<dir>.incomplete<...>".
  return ".tmp." in name or ".incomplete" in name or name.startswith("incomplete.")


def _walk(roots: Iterable[str], depth: int) -> Set[str]:
  """Every path under `roots` down to `depth` levels (shallow: download caches can hold huge trees)."""
  seen: Set[str] = set()
  frontier = [(root, 0) for root in roots if os.path.exists(root)]
  seen.update(root for root, _ in frontier)
  while frontier:
    path, level = frontier.pop()
    if level >= depth or not os.path.isdir(path) or os.path.islink(path):
      continue
    for name in os.listdir(path):
      child = os.path.join(path, name)
      seen.add(child)
      frontier.append((child, level + 1))
  return seen


def leftovers_since(roots: Iterable[str], depth: int = 3) -> Set[str]:
  """A snapshot of what exists under `roots` now, for `remove_leftovers` after a failed attempt."""
  return _walk(roots, depth)


def remove_leftovers(roots: Iterable[str], before: Set[str], depth: int = 3) -> Set[str]:
  """Removes what a failed download created under `roots`: partial files and folders, then empty folders.

  Completed downloads that appeared meanwhile are kept (the next attempt reuses them); nothing that
  existed before (`before`) is touched. Another process preparing into the same data_dir at the same
  time would lose its partial files too: prepare datasets from one process (e.g. the chief).
  Returns the removed paths.
  """
  roots = list(roots)
  removed: Set[str] = set()
  for path in sorted(_walk(roots, depth) - before, key=len, reverse=True):  # Children before parents.
    if not os.path.lexists(path):
      continue
    if _is_partial(os.path.basename(path)):
      if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)
      removed.add(path)
    elif os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path):
      os.rmdir(path)
      removed.add(path)
  return removed
