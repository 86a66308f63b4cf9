"""Every sampling option has one range (``SAMPLING``, beside ``GenerationSettings``), and every
place that takes one keeps to exactly it: the settings file and stored chats (clamped), a chat
export (refused), the terminal chat's options (refused). The dialog's spin boxes and the local
API's request bodies are checked in tests/ui/test_settings_dialog.py and
tests/server/test_sampling_limits.py."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import pytest

from conversion.errors import HistoryError
from desktop.cli.main import build_parser
from desktop.core import paths
from desktop.core import settings as store
from desktop.core.history.export import import_json
from desktop.core.history.store import History
from desktop.core.settings import SAMPLING, GenerationSettings, SamplingOption

OPTIONS = list(SAMPLING)


def outside(option: SamplingOption) -> tuple[float, float]:
    """The nearest values below and above the range."""
    if option.whole:
        return option.low - 1, option.high + 1
    return math.nextafter(option.low, -math.inf), math.nextafter(option.high, math.inf)


def test_every_generation_setting_has_its_limits_and_a_default_within_them() -> None:
    assert [item.name for item in fields(GenerationSettings)] == OPTIONS
    defaults = GenerationSettings()
    for name, option in SAMPLING.items():
        assert option.low < option.high, name
        assert option.low <= getattr(defaults, name) <= option.high, name
        assert option.label and option.help, name
        # the dialog shows the default as it is, and a step moves within the range
        assert round(getattr(defaults, name), option.decimals) == getattr(defaults, name), name
        assert 0 < option.step <= option.high - option.low, name


@pytest.mark.parametrize("name", OPTIONS)
def test_the_settings_file_is_clamped_exactly_at_the_bounds(name: str) -> None:
    option = SAMPLING[name]
    below, above = outside(option)
    for written, read in ((below, option.low), (option.low, option.low), (above, option.high)):
        raw = {"generation": {name: written}}
        paths.settings_file().write_text(json.dumps(raw), encoding="utf-8")
        assert getattr(store.load().generation, name) == read, written
    raw = {"model_defaults": {"m": {name: above}}}  # a chat's or a model's own settings
    stored = store.generation_from(raw["model_defaults"]["m"], GenerationSettings())
    assert getattr(stored, name) == option.high


@pytest.mark.parametrize("name", OPTIONS)
def test_a_chat_export_is_refused_exactly_past_the_bounds(name: str, tmp_path: Path) -> None:
    option = SAMPLING[name]
    history = History(tmp_path / "h.sqlite3")

    def exported(value: float) -> dict[str, object]:
        return {
            "format": "huacaya-conversation",
            "version": 1,
            "settings": {"generation": {name: value}},
            "messages": [{"role": "user", "content": "hi"}],
        }

    for value in (option.low, option.high):
        imported = import_json(history, exported(value))
        assert imported.settings["generation"][name] == value
    for value in outside(option):
        with pytest.raises(HistoryError) as refused:
            import_json(history, exported(value))
        assert f"settings.generation.{name}" in refused.value.message
    history.close()


TERMINAL_OPTIONS = {"temperature": "--temperature", "max_tokens": "--max-tokens", "seed": "--seed"}


@pytest.mark.parametrize("name", list(TERMINAL_OPTIONS))
def test_the_terminal_chat_refuses_exactly_past_the_bounds(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    option, flag = SAMPLING[name], TERMINAL_OPTIONS[name]
    for value in (option.low, option.high):
        args = build_parser().parse_args(["chat", f"{flag}={value!r}", "a question"])
        assert getattr(args, name) == value
    for value in outside(option):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["chat", f"{flag}={value!r}", "a question"])
        assert option.bounds in capsys.readouterr().err
