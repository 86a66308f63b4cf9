"""Checkpoint and GGUF files of the wrong shape, or that are not files at all: each refused at
once with one message naming the file and the field, never a traceback, a hang or gigabytes."""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from conversion.convert import convert
from conversion.errors import CheckpointError, HuacayaError, ModelFileError, NotARegularFileError
from conversion.gguf_file import read_gguf_info
from tests.conversion.architectures import build_checkpoint

KMSG = Path("/proc/kmsg")


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 checkpoint: BPE tokenizer.json, tokenizer_config.json with a template."""
    return build_checkpoint("qwen2", tmp_path_factory.mktemp("qwen") / "tiny-qwen")


@pytest.fixture
def no_hang():  # type: ignore[no-untyped-def]
    """A call that would block forever fails after 20 s instead (SIGALRM, main thread)."""
    import signal

    def on_alarm(signum, frame):  # type: ignore[no-untyped-def]
        raise TimeoutError("blocked")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _refused(folder: Path, out: Path, kind: type[HuacayaError] = CheckpointError) -> HuacayaError:
    started = time.monotonic()
    with pytest.raises(kind) as caught:
        convert(folder, out)
    assert time.monotonic() - started < 10
    assert caught.value.hint and "\n" not in caught.value.message
    assert not out.exists()
    return caught.value


def _set(path: list[str], value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return change


def _vocab_ids_as_text(data: dict[str, Any]) -> None:
    data["model"]["vocab"] = {token: str(i) for token, i in data["model"]["vocab"].items()}


TOKENIZER_JSON = {
    "vocab a list": (lambda d: _set(["model", "vocab"], list(d["model"]["vocab"]))(d), "vocab"),
    "ids as strings": (_vocab_ids_as_text, "model.vocab"),
    "added_tokens not a list": (_set(["added_tokens"], {"a": 1}), "added_tokens"),
    "model null": (_set(["model"], None), "model"),
    "added token id as text": (lambda d: d["added_tokens"][0].update(id="5"), "added_tokens[0].id"),
    "huge token id": (lambda d: d["added_tokens"][0].update(id=10**12), "added_tokens[0].id"),
    "merges of numbers": (_set(["model", "merges"], [1, 2]), "model.merges[0]"),
    "post_processor a list": (_set(["post_processor"], [1]), "post_processor"),
    "pretokenizers not a list": (
        _set(["pre_tokenizer"], {"type": "Sequence", "pretokenizers": 5}),
        "pretokenizers",
    ),
}


@pytest.mark.parametrize("case", TOKENIZER_JSON, ids=list(TOKENIZER_JSON))
def test_tokenizer_json_of_the_wrong_shape_names_the_field(
    case: str, tiny_qwen: Path, tmp_path: Path
) -> None:
    change, field = TOKENIZER_JSON[case]
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    _edit_json(folder / "tokenizer.json", change)
    error = _refused(folder, tmp_path / "out.gguf")
    assert "tokenizer.json" in error.message and field in error.message, error.message


def test_a_sentencepiece_tokenizer_json_of_the_wrong_shape_names_the_field(
    tiny_llama: Path, tmp_path: Path
) -> None:
    """transformers 5 saves LLaMA's SentencePiece vocabulary as tokenizer.json only; its
    merges are read into scores, where a merge without its space was a ValueError."""
    from tests.conversion.test_transformers5_tokenizers import saved_by_transformers5

    folder = saved_by_transformers5(tiny_llama, tmp_path / "ckpt")
    _edit_json(folder / "tokenizer.json", _set(["model", "merges"], ["ab"]))
    error = _refused(folder, tmp_path / "out.gguf")
    assert "tokenizer.json" in error.message and "model.merges[0]" in error.message, error.message
    _edit_json(folder / "tokenizer.json", _set(["model", "vocab"], [["a", 0.0]]))
    error = _refused(folder, tmp_path / "out.gguf")
    assert "model.vocab" in error.message, error.message


TOKENIZER_CONFIG = {
    "template a list of numbers": (_set(["chat_template"], [1, 2, 3]), "chat_template"),
    "template entry without text": (
        _set(["chat_template"], [{"name": "default", "template": 5}]),
        "chat_template[0].template",
    ),
    "add_bos_token as text": (_set(["add_bos_token"], "yes"), "add_bos_token"),
    "eos_token a number": (_set(["eos_token"], 7), "eos_token"),
    "added_tokens_decoder a list": (_set(["added_tokens_decoder"], [1]), "added_tokens_decoder"),
    "decoder key not an id": (
        _set(["added_tokens_decoder"], {"x": {"content": "a"}}),
        "added_tokens_decoder",
    ),
}


@pytest.mark.parametrize("case", TOKENIZER_CONFIG, ids=list(TOKENIZER_CONFIG))
def test_tokenizer_config_of_the_wrong_shape_names_the_field(
    case: str, tiny_qwen: Path, tmp_path: Path
) -> None:
    change, field = TOKENIZER_CONFIG[case]
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    _edit_json(folder / "tokenizer_config.json", change)
    error = _refused(folder, tmp_path / "out.gguf")
    assert "tokenizer_config.json" in error.message and field in error.message, error.message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"chat_template": ' + "[" * 300 + "]" * 300 + "}", "nested"),
        ('{"add_bos_token": ' + "7" * 5000 + "}", "refuse"),
        ("\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), "JSON"),
    ],
    ids=["not JSON", "deeply nested", "nested 300 levels", "5000-digit number", "not UTF-8"],
)
def test_unreadable_json_is_one_message(
    content: str, says: str, tiny_qwen: Path, tmp_path: Path
) -> None:
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    (folder / "tokenizer_config.json").write_text(content, encoding="latin-1")
    error = _refused(folder, tmp_path / "out.gguf")
    assert "tokenizer_config.json" in error.message


@pytest.mark.parametrize("bad", [5, "../../etc/passwd", "/dev/zero", None, ["a"]])
def test_a_shard_index_naming_no_plain_file_is_refused(
    bad: Any, tiny_qwen: Path, tmp_path: Path
) -> None:
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    names = json.loads((folder / "model.safetensors").read_bytes()[8:].split(b"}}", 1)[0] + b"}}")
    weight_map = {name: "model.safetensors" for name in names if name != "__metadata__"}
    first = next(iter(weight_map))
    weight_map[first] = bad
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    error = _refused(folder, tmp_path / "out.gguf")
    assert "model.safetensors.index.json" in error.message and "weight_map" in error.message


def test_config_json_link_loop(tiny_qwen: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(folder / "loop.json")
    (folder / "loop.json").symlink_to(folder / "config.json")
    error = _refused(folder, tmp_path / "out.gguf", NotARegularFileError)
    assert "leads back to itself" in error.message


@pytest.mark.skipif(not KMSG.exists(), reason="needs /proc/kmsg")
@pytest.mark.parametrize(
    "name",
    ["config.json", "model.safetensors", "tokenizer_config.json", "tokenizer.json", "shard"],
)
def test_links_to_kernel_files_are_refused_without_reading(
    name: str, tiny_qwen: Path, tmp_path: Path, no_hang: None
) -> None:
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    if name == "shard":  # the target of a shard index
        names = {"model.embed_tokens.weight": "model-00002-of-00002.safetensors"}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": names}))
        name = "model-00002-of-00002.safetensors"
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(KMSG)
    error = _refused(folder, tmp_path / "out.gguf", NotARegularFileError)
    assert "a file of the system" in error.message


def test_a_chat_template_linked_from_outside_is_not_copied(tiny_qwen: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the secret\n")
    folder = _copy(tiny_qwen, tmp_path / "ckpt")
    (folder / "chat_template.jinja").symlink_to(secret)
    error = _refused(folder, tmp_path / "out.gguf", NotARegularFileError)
    assert "outside the checkpoint" in error.message
    (folder / "chat_template.jinja").unlink()
    elsewhere = tmp_path / "elsewhere"  # a linked folder: the files in it lie outside too
    elsewhere.mkdir()
    (elsewhere / "tool.jinja").write_text("root:x:0:0:the secret\n")
    (folder / "additional_chat_templates").symlink_to(elsewhere)
    (folder / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    error = _refused(folder, tmp_path / "out.gguf", NotARegularFileError)
    assert "tool.jinja" in error.message and "outside the checkpoint" in error.message
    (folder / "additional_chat_templates").unlink()
    # the same file inside the folder, or in a Hugging Face cache's blobs, is used
    (folder / "chat_template.jinja").unlink()
    cache = tmp_path / "models--org--tiny"
    (cache / "blobs").mkdir(parents=True)
    (cache / "blobs" / "abc123").write_text("{{ messages[0]['content'] }}")
    snapshot = _copy(folder, cache / "snapshots" / "0123abcd")
    (snapshot / "chat_template.jinja").symlink_to(Path("../../blobs/abc123"))
    result = convert(snapshot, tmp_path / "linked.gguf")
    assert result.chat_template == "model"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_named_gguf_is_refused_at_once(tmp_path: Path, no_hang: None) -> None:
    pipe = tmp_path / "model.gguf"
    os.mkfifo(pipe)
    with pytest.raises(ModelFileError, match="named pipe"):
        read_gguf_info(pipe)
    if KMSG.exists():
        (tmp_path / "kmsg.gguf").symlink_to(KMSG)
        with pytest.raises(ModelFileError, match="a file of the system"):
            read_gguf_info(tmp_path / "kmsg.gguf")


def _gguf_string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def test_a_gguf_with_a_huge_name_is_refused_cheaply(tmp_path: Path) -> None:
    """An 800 MB general.name (a sparse file: no disk used) once took 4.3 GB and was accepted."""
    path = tmp_path / "huge-name.gguf"
    length = 800_000_000
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 2)
    head += _gguf_string(b"general.architecture") + struct.pack("<I", 8) + _gguf_string(b"llama")
    head += _gguf_string(b"general.name") + struct.pack("<IQ", 8, length)
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(len(head) + length + 64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ModelFileError, match=r"general\.name is 800,000,000 bytes"):
        read_gguf_info(path)
    assert time.monotonic() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 20 * 1024  # kB


def test_a_gguf_claiming_a_million_tensors_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.gguf"
    entry = _gguf_string(b"t") + struct.pack("<IQIQ", 1, 32, 0, 0)
    with path.open("wb") as handle:
        handle.write(b"GGUF" + struct.pack("<IQQ", 3, 1_000_000, 0))
        handle.write(entry * 1_000_000)
    started = time.monotonic()
    with pytest.raises(ModelFileError, match="1,000,000 tensors"):
        read_gguf_info(path)
    assert time.monotonic() - started < 1
