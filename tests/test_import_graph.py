"""No import cycles inside model_garden, lazy imports included.

Every `import` / `from ... import` statement of every module (at any depth: function-level imports too) and
every `importlib.import_module("...")` call with a literal name is an edge from the module to the package
module it names; `from pkg import name` points at `pkg.name` when that is a module, else at `pkg`. A cycle
in that graph is a failure that lists the modules around it.
"""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "model_garden"


def _modules():
  """{dotted name: path} of every module in the package (a package is its __init__.py)."""
  out = {}
  root = os.path.join(REPO, PACKAGE)
  for folder, _, files in os.walk(root):
    for name in files:
      if not name.endswith(".py"):
        continue
      rel = os.path.relpath(os.path.join(folder, name), REPO)[:-3].replace(os.sep, ".")
      out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(folder, name)
  return out


def _resolve(module: str, level: int, name: str, is_package: bool) -> str:
  if not level:
    return name
  parts = module.split(".")
  base = parts if is_package else parts[:-1]
  base = base[:len(base) - (level - 1)]
  return ".".join(base + ([name] if name else []))


def import_graph():
  """{module: set of package modules it imports}."""
  modules = _modules()
  graph = {m: set() for m in modules}
  for module, path in modules.items():
    is_package = path.endswith("__init__.py")
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
      targets = []
      if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = _resolve(module, node.level, node.module or "", is_package)
        for alias in node.names:
          candidate = f"{base}.{alias.name}"
          targets.append(candidate if candidate in modules else base)
      elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        targets = [node.args[0].value]
      for target in targets:
        # `import model_garden.a.b` runs model_garden.a.b (and its parents, which are not edges of its own).
        if target == PACKAGE or target.startswith(PACKAGE + "."):
          while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]
          if target != module:
            graph[module].add(target)
  return graph


def find_cycles(graph):
  """The strongly connected components with more than one module (Tarjan), each sorted."""
  index, low, stack, on_stack, out = {}, {}, [], set(), []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def _path(graph, component):
  """One cycle through the component, for the message: a -> b -> ... -> a."""
  members = set(component)
  start = component[0]
  chain, current, seen = [start], start, {start}
  while True:
    nxt = sorted(w for w in graph[current] if w in members)
    step = next((w for w in nxt if w == start), None) or next((w for w in nxt if w not in seen), nxt[0])
    chain.append(step)
    if step == start or step in seen:
      return " -> ".join(chain)
    seen.add(step)
    current = step


def test_the_finder_sees_a_cycle():
  graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
  assert find_cycles(graph) == [["a", "b", "c"]]
  assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_relative_imports():
  graph = import_graph()
  # trainer imports models only inside functions? No: at module level; and export lazily inside a function.
  assert "model_garden.export" in graph["model_garden.training.trainer"]
  assert "model_garden.registry" in graph["model_garden.models.registry"]


def test_no_import_cycles():
  graph = import_graph()
  cycles = find_cycles(graph)
  assert not cycles, "import cycles:\n" + "\n".join(_path(graph, c) for c in cycles)
