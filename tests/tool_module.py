"""Loads a `tools/*.py` script as a module for tests (tools/ is not a package)."""

import importlib.util
import os
import sys

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


def load_tool(filename: str):
  """tools/<filename> as the module `model_garden_tools_<stem>`, registered in sys.modules before it runs (its
  dataclasses look their module up there)."""
  spec = importlib.util.spec_from_file_location(f"model_garden_tools_{filename[:-3]}", os.path.join(TOOLS, filename))
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module
  spec.loader.exec_module(module)
  return module
