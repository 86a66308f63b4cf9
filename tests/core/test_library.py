from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import pytest

from conversion.errors import ModelFileError, ModelNotFoundError
from conversion.gguf_file import read_gguf_info
from desktop.core import paths
from desktop.core.models.library import ModelLibrary, resolve_model, suggested_name
from desktop.core.models.starter import STARTER_ID
from tests.helpers import copy_with_renamed_key, text_file_named_gguf


def test_starter_registered_on_first_start_without_its_path(starter_path: Path) -> None:
    library = ModelLibrary()
    assert library.entries() == []
    entry = library.ensure_starter()
    assert entry is not None and entry.is_starter
    assert library.default_entry() == entry
    assert library.path_of(entry) == starter_path
    manifest = (paths.models_dir() / STARTER_ID / "manifest.json").read_text(encoding="utf-8")
    assert str(starter_path.parent) not in manifest  # the package may move; user data must not
    assert json.loads(manifest)["quantization"] == "Q4_1"
    assert library.ensure_starter() == entry  # idempotent


def test_header_reader_agrees_with_the_gguf_package(starter_path: Path) -> None:
    ours = read_gguf_info(starter_path)
    reference = gguf.GGUFReader(starter_path)
    assert ours.tensor_count == len(reference.tensors)
    assert ours.parameter_count == sum(int(t.n_elements) for t in reference.tensors)
    assert ours.architecture == reference.fields["general.architecture"].contents()
    assert ours.chat_template == reference.fields["tokenizer.chat_template"].contents()
    assert ours.context_length == reference.fields["llama.context_length"].contents()
    assert ours.array_lengths["tokenizer.ggml.tokens"] == 49152


def test_unsupported_version_and_damaged_counts_are_named(starter_path: Path, tmp_path: Path):
    data = bytearray(starter_path.read_bytes()[:4096])
    data[4:8] = (7).to_bytes(4, "little")
    (tmp_path / "v7.gguf").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="version 7"):
        read_gguf_info(tmp_path / "v7.gguf")
    data[4:8] = (3).to_bytes(4, "little")
    data[16:24] = (2**40).to_bytes(8, "little")  # absurd metadata count
    (tmp_path / "kv.gguf").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        read_gguf_info(tmp_path / "kv.gguf")


def test_add_file_registers_an_opened_gguf_once(starter_path: Path, tmp_path: Path) -> None:
    copy = copy_with_renamed_key(
        starter_path, tmp_path / "copy.gguf", b"general.name", b"general.nbme"
    )
    for key, other in ((b"general.basename", b"general.basenome"), (b"general.finetune", b"x")):
        copy = copy_with_renamed_key(copy, tmp_path / "step.gguf", key, other.ljust(len(key), b"x"))
        copy = copy.replace(tmp_path / "copy.gguf")
    library = ModelLibrary()
    entry = library.add_file(copy)
    assert entry.name == "copy 135M Q4_1"  # no name inside: the file's, with size and type
    assert library.path_of(entry) == copy.resolve()
    assert library.add_file(copy) == entry
    assert library.get("copy 135M Q4_1") == entry
    assert resolve_model(entry.id) == copy.resolve()


def test_bad_file_leaves_the_library_unchanged(tmp_path: Path) -> None:
    library = ModelLibrary()
    library.ensure_starter()
    before = sorted(p.name for p in paths.models_dir().rglob("*"))
    with pytest.raises(ModelFileError):
        library.add_file(text_file_named_gguf(tmp_path / "list.gguf"))
    assert sorted(p.name for p in paths.models_dir().rglob("*")) == before


def test_resolve_model(starter_path: Path, tmp_path: Path) -> None:
    assert resolve_model("") == starter_path
    assert resolve_model(STARTER_ID) == starter_path
    assert resolve_model(str(tmp_path / "x.gguf")) == tmp_path / "x.gguf"
    with pytest.raises(ModelNotFoundError, match="No model called"):
        resolve_model("llama-9000")


def test_a_bare_name_means_the_library_model_even_beside_a_folder_of_that_name(
    starter_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huacaya-train --out run1 installs "run1" and prints `huacaya chat --model run1`, run in
    the folder that holds run1/: the name means the installed model, not the training folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / STARTER_ID).mkdir()  # a folder named like the model, where the command runs
    assert resolve_model(STARTER_ID) == starter_path
    (tmp_path / "mine.bin").write_bytes(b"")  # a bare name nothing installed has: the file
    assert resolve_model("mine.bin") == Path("mine.bin")


def test_damaged_manifest_is_skipped(tmp_path: Path) -> None:
    library = ModelLibrary()
    library.ensure_starter()
    broken = paths.models_dir() / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{", encoding="utf-8")
    assert [e.id for e in library.entries()] == [STARTER_ID]


def test_a_model_is_named_from_its_metadata(starter_path: Path, tmp_path: Path) -> None:
    """Its name, size label and quantization, each once; the file's name only as a fallback."""
    assert suggested_name(read_gguf_info(starter_path)) == "Smollm2 135M 8k Lc100K Mix1 Ep2 Q4_1"
    named = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    shutil.copyfile(starter_path, named)
    expected = {
        b"general.name": "smollm2 8k-lc100k-mix1-ep2 135M Q4_1",  # its base name and fine-tune
        b"general.basename": "8k-lc100k-mix1-ep2 135M Q4_1",
        b"general.finetune": "SmolLM2-135M-Instruct Q4_1",  # the file's name, size once
    }
    for key, name in expected.items():
        copy_with_renamed_key(named, tmp_path / "step.gguf", key, key[:-1] + b"X")
        (tmp_path / "step.gguf").replace(named)
        assert suggested_name(read_gguf_info(named)) == name


def test_a_copy_of_an_installed_model_is_found_by_its_content(
    starter_path: Path, tmp_path: Path
) -> None:
    library = ModelLibrary()
    starter = library.ensure_starter()
    assert starter is not None
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(starter_path, copy)
    assert library.find_copy(starter_path).id == STARTER_ID  # the very file
    assert library.find_copy(copy).id == STARTER_ID  # the same bytes elsewhere

    other = copy_with_renamed_key(starter_path, tmp_path / "other.gguf", b"Mix1 Ep2", b"Mix9 Ep2")
    assert other.stat().st_size == copy.stat().st_size  # same size, another model
    assert library.find_copy(other) is None
    managed = library.add_managed(other, "Other")
    again = copy_with_renamed_key(starter_path, tmp_path / "again.gguf", b"Mix1 Ep2", b"Mix9 Ep2")
    assert library.find_copy(again).id == managed.id
    kept = json.loads((library.root / managed.id / "manifest.json").read_text())
    assert len(kept["sha256"]) == 64  # worked out once, kept while the file is unchanged

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    smaller = text_file_named_gguf(folder / "list.gguf")
    assert library.find_copy(smaller) is None  # nothing of its size: nothing is hashed
