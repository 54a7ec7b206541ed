"""README.md's "Use it from Python" code block runs exactly as written, in a fresh process, from scratch.

The block is extracted from the README (not copied here), written to a file and run with this interpreter in
a new process whose tfds data directory is empty, so it also renders mg_shapes itself, as on a fresh machine.
This is the slowest test of the suite on purpose (about 90 s on 2 cores): it is what a new user runs first.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_python_block(section: str) -> str:
  """The first ```python block after the heading `## {section}` of README.md."""
  with open(os.path.join(ROOT, "README.md")) as f:
    text = f.read()
  start = text.index(f"## {section}\n")
  match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
  assert match and match.start() < text.find("\n## ", start + 1), f"No python block under '## {section}'."
  return match.group(1)


def test_use_it_from_python_block_runs_as_written(tmp_path):
  code = readme_python_block("Use it from Python")
  assert "images" in code.split("logits = net(images)")[0]  # `images` is defined before it is used.
  script = tmp_path / "readme_snippet.py"
  script.write_text(code)
  env = dict(os.environ, TFDS_DATA_DIR=str(tmp_path / "tfds"),
             PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
  result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  accuracy = float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1))
  assert accuracy >= 0.9, result.stdout[-2000:]  # The README says about 0.95.
  assert os.listdir(tmp_path / "tfds" / "mg_shapes" / "px32")  # It rendered the dataset itself.
