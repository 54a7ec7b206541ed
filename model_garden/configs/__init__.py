"""Training configs: Python files with `get_config(arg)`, a docstring giving the command and expected
numbers, and a `runlocal` argument that shrinks the job to a smoke test."""

from model_garden.configs.config_args import parse_arg
