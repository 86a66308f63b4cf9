"""A GGUF model as a Hugging Face checkpoint to train on: dequantized once, cached, reused.

transformers reads GGUF files (``from_pretrained(..., gguf_file=...)``): its tensor maps and
per-architecture processors (LLaMA's Q/K permutation undone, and so on) and its GGUF tokenizer
import are what this module uses. It falls short in three ways, which is why the weights are
walked here one tensor at a time instead of through ``from_pretrained``:

- a model loaded from GGUF carries a ``quantization_config`` and ``save_pretrained`` refuses it;
- ``load_gguf_checkpoint`` keeps every dequantized tensor in memory at once, with a tqdm bar and
  no way to stop: here each tensor goes to its safetensors shard, with progress and cancel;
- ``gguf.GGUFReader`` trusts the header's lengths, so our own bounded reader
  (``conversion.gguf_file``) checks the file first.

The tokenizer is saved by transformers 5 as ``tokenizer.json`` (and its config), with the two
flags its GGUF import drops (``add_bos_token``, ``add_prefix_space``) put back from the file.

The checkpoint is written into a temporary folder beside its final place and renamed into place
when complete, so a crash or a cancel never leaves a half checkpoint under a real name; the name
carries the file's SHA-256, so a changed file is converted again and the same file never twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from conversion.errors import HuacayaError, TrainingError
from conversion.gguf_file import read_gguf_info
from conversion.ownership import owned_name, sweep
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress, sub_range

log = logging.getLogger(__name__)

SOURCE_RECORD = "huacaya-gguf-source.json"
FORMAT_VERSION = 1  # bump when what is written changes, so old cache entries are rebuilt
SHARD_BYTES = 2 * 2**30
_FLOATS = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
_FP16_MAX = float(torch.finfo(torch.float16).max)
_HASH_CHUNK = 8 * 2**20


@dataclass(frozen=True)
class GGUFBase:
    """A checkpoint made from a GGUF file: where it is, and what the GGUF was."""

    checkpoint: Path
    gguf: Path
    quantization: str  # the GGUF's file type, e.g. Q4_1, Q4_K_M, F16
    architecture: str
    reused: bool  # True when the cache already held it


def file_digest(
    path: Path, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
) -> str:
    """SHA-256 of ``path``, read in chunks (progress per chunk, cancellable)."""
    digest = hashlib.sha256()
    size = max(path.stat().st_size, 1)
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            cancel.check()
            digest.update(chunk)
            done += len(chunk)
            progress(done / size, "checking the model file")
    return digest.hexdigest()


def checkpoint_from_gguf(
    gguf_path: Path,
    cache_root: Path,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> GGUFBase:
    """The Hugging Face checkpoint of ``gguf_path`` in ``cache_root``, made if not there yet."""
    gguf_path = Path(gguf_path).expanduser().resolve()
    try:
        info = read_gguf_info(gguf_path)  # bounded: before gguf.GGUFReader sees the file
    except HuacayaError as exc:
        raise TrainingError(
            f"Cannot train on “{gguf_path.name}”: {exc.message}",
            "Give a GGUF model file, an installed model's name (huacaya models list), a "
            "Hugging Face checkpoint folder or a Hub model id.",
        ) from exc
    digest = file_digest(gguf_path, sub_range(progress, 0.0, 0.1), cancel)
    slug = re.sub(r"[^a-z0-9]+", "-", gguf_path.stem.lower()).strip("-")[:60] or "model"
    final = Path(cache_root) / f"{slug}-{digest[:16]}"
    base = GGUFBase(final, gguf_path, info.quantization, info.architecture, reused=True)
    if _complete(final, digest):
        progress(1.0, f"using the checkpoint made earlier from {gguf_path.name}")
        return base
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep(final.parent)  # half checkpoints of processes that died
    tmp = Path(
        tempfile.mkdtemp(prefix=owned_name(f".{final.name}."), suffix=".partial", dir=final.parent)
    )
    try:
        _write_checkpoint(gguf_path, tmp, sub_range(progress, 0.1, 1.0), cancel)
        record = {
            "format": FORMAT_VERSION,
            "sha256": digest,
            "gguf": str(gguf_path),
            "quantization": info.quantization,
            "architecture": info.architecture,
        }
        (tmp / SOURCE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if final.exists():  # an old format, or another process finished first
            if _complete(final, digest):
                shutil.rmtree(tmp, ignore_errors=True)
                return base
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(1.0, f"made a trainable checkpoint of {gguf_path.name}")
    return GGUFBase(final, gguf_path, info.quantization, info.architecture, reused=False)


def _complete(folder: Path, digest: str) -> bool:
    try:
        record = json.loads((folder / SOURCE_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return record.get("sha256") == digest and record.get("format") == FORMAT_VERSION


def _write_checkpoint(gguf_path: Path, out: Path, progress: Progress, cancel: CancelToken) -> None:
    from gguf import GGUFReader, dequantize
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS,
        TensorProcessor,
        get_gguf_hf_weights_map,
        load_gguf_checkpoint,
    )

    folder, name = str(gguf_path.parent), gguf_path.name
    progress(0.0, "reading the GGUF's settings and vocabulary")
    try:
        parsed = load_gguf_checkpoint(str(gguf_path), return_tensors=False)
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except (ValueError, KeyError, NotImplementedError) as exc:
        raise TrainingError(
            f"transformers cannot turn “{name}” into a checkpoint to train: {exc}",
            "Give the model's Hugging Face checkpoint folder or Hub id instead (the GGUF was "
            "made from one).",
        ) from exc
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # it would describe the GGUF, not this checkpoint
    cancel.check()
    _save_tokenizer(tokenizer, gguf_path, out)

    reader = GGUFReader(str(gguf_path))
    architecture = parsed["config"].get("model_type", "")
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    processor_class = TENSOR_PROCESSORS.get(
        str(reader.fields["general.architecture"].contents()), TensorProcessor
    )
    processor = processor_class(config=parsed["config"])
    names = get_gguf_hf_weights_map(skeleton, processor)
    wanted = dict(skeleton.named_parameters())
    shards = _plan_shards(reader.tensors)
    written: set[str] = set()
    dtypes: Counter[str] = Counter()
    index: dict[str, str] = {}
    total = len(reader.tensors)
    count = 0
    for number, tensors in enumerate(shards, 1):
        shard_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        state: dict[str, torch.Tensor] = {}
        for tensor in tensors:
            cancel.check()
            weights = dequantize(tensor.data, tensor.tensor_type)
            before = set(state)
            result = processor.process(
                weights=weights,
                name=tensor.name,
                tensor_key_mapping=names,
                parsed_parameters={"tensors": state, "config": parsed["config"]},
            )
            count += 1
            progress(count / total * 0.95, f"dequantizing {tensor.name}")
            # processors that split a tensor (MoE experts) store the parts themselves
            added = set(state) - before
            if result.name in names:
                state[names[result.name]] = result.weights
                added.add(names[result.name])
            for hf_name in added:
                state[hf_name] = _stored(np.asarray(state[hf_name]), tensor.tensor_type.name)
                written.add(hf_name)
                index[hf_name] = shard_name
                dtypes[str(state[hf_name].dtype).removeprefix("torch.")] += state[hf_name].numel()
        if state:
            _save_shard(state, out / shard_name)
    missing = sorted(
        k
        for k in wanted
        if k not in written and not (k == "lm_head.weight" and config.tie_word_embeddings)
    )
    if missing:
        raise TrainingError(
            f"“{name}” ({architecture}) lacks weights the model needs: {', '.join(missing[:5])}.",
            "Give the model's Hugging Face checkpoint folder or Hub id instead.",
        )
    _save_index(index, shards, out)
    config.dtype = dtypes.most_common(1)[0][0]  # what most weights are stored in
    config.architectures = [type(skeleton).__name__]  # what loaders and our converter read
    config.save_pretrained(out)
    progress(1.0, "checkpoint written")
    log.info("made a checkpoint of %s in %s", gguf_path, out)


def _plan_shards(tensors: list[Any]) -> list[list[Any]]:
    """Tensors grouped into shards of at most SHARD_BYTES once stored (≈ 2 bytes a weight)."""
    shards: list[list[Any]] = [[]]
    size = 0
    for tensor in tensors:
        nbytes = int(np.prod(tensor.shape)) * 4
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append(tensor)
        size += nbytes
    return shards


def _stored(weights: np.ndarray, gguf_type: str) -> torch.Tensor:
    """A float GGUF tensor keeps its type; a quantized one is stored in fp16, which holds its
    dequantized values to a relative 5e-4, far below the quantization's own error (fp32 where a
    value is out of fp16's range)."""
    tensor = torch.from_numpy(np.array(weights, copy=True))  # the reader's map is read-only
    if gguf_type in _FLOATS:
        return tensor.to(_FLOATS[gguf_type])
    if tensor.numel() and float(tensor.abs().max()) > _FP16_MAX:
        return tensor.to(torch.float32)
    return tensor.to(torch.float16)


def _save_shard(state: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})


def _save_index(index: dict[str, str], shards: list[list[Any]], out: Path) -> None:
    files = sorted(set(index.values()))
    if len(files) == 1:  # one shard: transformers' plain name
        (out / files[0]).rename(out / "model.safetensors")
        return
    total = sum((out / f).stat().st_size for f in files)
    text = json.dumps({"metadata": {"total_size": total}, "weight_map": index}, indent=2)
    (out / "model.safetensors.index.json").write_text(text + "\n", encoding="utf-8")


def _save_tokenizer(tokenizer: Any, gguf_path: Path, out: Path) -> None:
    from gguf import GGUFReader

    tokenizer.save_pretrained(out)
    reader = GGUFReader(str(gguf_path))
    flags = {
        "add_bos_token": "tokenizer.ggml.add_bos_token",
        "add_prefix_space": "tokenizer.ggml.add_space_prefix",
    }
    path = out / "tokenizer_config.json"
    settings = json.loads(path.read_text(encoding="utf-8"))
    for key, gguf_key in flags.items():
        field = reader.fields.get(gguf_key)
        settings[key] = bool(field.contents()) if field is not None else False
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    if not (out / "tokenizer.json").is_file():
        raise TrainingError(f"transformers did not write a tokenizer.json for “{gguf_path.name}”.")
