"""Files llama.cpp must never see, and files it may only see in a child process first."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion.errors import ModelFileError, ModelLoadError
from desktop.core import paths
from desktop.core.chat.engine import ChatEngine
from tests.conftest import greedy
from tests.fuzz.gguf_mutator import ARRAY, STRING, variant

# (the change, what the refusal must name) — the cases that crashed or hung llama.cpp before
REFUSED = {
    "context length as text": ({"llama__context_length": (STRING, "4096")}, "context_length"),
    "context length as a list": ({"llama__context_length": (ARRAY, (5, [1, 2]))}, "context_length"),
    "context length 2^31": ({"llama__context_length": (4, 2**31)}, "context_length"),
    "alignment as a list": ({"general__alignment": (ARRAY, (4, [32]))}, "alignment"),
    "file type as a list": ({"general__file_type": (ARRAY, (4, [1]))}, "file_type"),
    "no layers": ({"llama__block_count": (4, 0)}, "block_count"),
    "2^31 layers": ({"llama__block_count": (4, 2**31)}, "block_count"),
    "unknown tokenizer": ({"tokenizer__ggml__model": (STRING, "sentencepiece")}, "tokenizer"),
    "no architecture": ({"general__architecture": None}, "architecture"),
}


@pytest.fixture(autouse=True)
def own_model_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_damaged_metadata_is_refused_before_llama_cpp(
    case: str, starter_path: Path, tmp_path: Path
) -> None:
    changes, named = REFUSED[case]
    path = variant(starter_path, tmp_path / "bad.gguf", **changes)
    with pytest.raises(ModelFileError) as refused:
        ChatEngine(path).load()
    assert named in refused.value.message and "bad.gguf" in refused.value.message
    assert not (tmp_path / "cache" / "model-checks.json").exists()  # refused before any child


HOSTILE_TEMPLATES = {
    "endless loop": "{% for i in range(10**9) %}x{% endfor %}",
    "a gigabyte of text": "{{ 'a' * 10**9 }}",
    "syntax error": "{% for m in messages %",
}


@pytest.mark.parametrize("name", HOSTILE_TEMPLATES, ids=list(HOSTILE_TEMPLATES))
def test_a_hostile_chat_template_falls_back_with_a_notice(
    name: str, starter_path: Path, tmp_path: Path
) -> None:
    template = HOSTILE_TEMPLATES[name]
    path = variant(starter_path, tmp_path / "m.gguf", tokenizer__chat_template=(STRING, template))
    engine = ChatEngine(path, context_length=512)
    info = engine.load()
    try:
        assert info.prompt_format == "chatml"  # the vocabulary has ChatML's tokens
        assert "chat template cannot be used" in info.notice and "ChatML" in info.notice
        response = engine.stream([{"role": "user", "content": "Hi"}], greedy(4))
        answer = response.text()
        assert answer and response.stats is not None
    finally:
        engine.close()


def test_a_file_that_aborts_llama_cpp_costs_a_message_not_the_app(
    starter_path: Path, tmp_path: Path
) -> None:
    # SentencePiece ("llama") rules over this BPE vocabulary: llama.cpp passes its own checks,
    # then abort()s in the tokenizer (std::out_of_range), which would end this very process.
    path = variant(starter_path, tmp_path / "m.gguf", tokenizer__ggml__model=(STRING, "llama"))
    for _ in range(2):  # a crash is not remembered as a pass
        with pytest.raises(ModelLoadError) as refused:
            ChatEngine(path).load()
        assert "crashed" in refused.value.message and "SIGABRT" in refused.value.message


def test_the_cache_folder_is_huacaya_cache_else_the_homes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    assert paths.cache_dir() == tmp_path / "cache"  # HUACAYA_CACHE (this module's fixture)
    monkeypatch.delenv(paths.CACHE_ENV)
    assert paths.cache_dir() == tmp_path / "home" / "cache"
    assert paths.cache_dir() != paths.data_dir()  # nothing in it needs a backup


def test_a_model_is_probed_once(starter_path: Path, tmp_path: Path) -> None:
    path = variant(starter_path, tmp_path / "m.gguf")
    ChatEngine(path).load()
    verdicts = paths.cache_dir() / "model-checks.json"
    assert verdicts.parent == tmp_path / "cache"  # HUACAYA_CACHE, not the home's data
    checks = verdicts.read_text()
    assert "m.gguf" in checks
    remembered = checks.replace('"template_problem": ""', '"template_problem": "remembered"')
    verdicts.write_text(remembered.replace('"chatml"', '"llama3"'))
    info = ChatEngine(path).load()  # from memory: no second child
    assert info.prompt_format == "llama3" and "remembered" in info.notice
