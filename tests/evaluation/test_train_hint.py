"""huacaya-train --export-gguf ends with the ``huacaya eval`` commands that compare the new
model with its base: commands the ``huacaya`` parser accepts as they are printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from conversion.train.cli import compare_with_base
from desktop.cli.main import build_parser


@pytest.mark.parametrize(
    "base", ["HuggingFaceTB/SmolLM2-135M-Instruct", "local", "smollm2-135m-instruct"]
)
def test_the_printed_commands_compare_the_model_with_its_base(tmp_path: Path, base: str) -> None:
    if base == "local":
        base = str(tmp_path / "my-base")
        Path(base).mkdir()
    text = compare_with_base("my-alpaca-q4", base)
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("huacaya ")]
    assert len(commands) == 2
    name = Path(base).name
    for command in commands:
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.command == "eval" and args.sides == ["my-alpaca-q4", name]
        assert args.prompts == "self-instruct"  # the published set, downloaded when needed
    if Path(base).is_dir():
        assert "huacaya models import" in text
    elif "/" in base:
        assert "huacaya models pull" in text
    else:  # a library model (huacaya-train --base accepts one): nothing to install
        assert "huacaya models" not in text
