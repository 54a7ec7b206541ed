"""A multi-worker cluster on 127.0.0.1 for tests: free ports and each worker's TF_CONFIG."""

import json
import socket


def free_ports(n):
  """`n` TCP ports free on 127.0.0.1 right now (bound and released at once)."""
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def tf_configs(workers: int):
  """The TF_CONFIG value (JSON) of each of `workers` workers of one new loopback cluster."""
  cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(workers)]}
  return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(workers)]
