"""Hugging Face checkpoint → GGUF, tensor by tensor, without PyTorch.

What is particular to an architecture (names, hyperparameters, transformations) lives in
``conversion.archs``; this module is the same for all. All tensor headers are written first;
then each tensor is read from the memory-mapped weights (safetensors or PyTorch pickles),
transformed (LoRA merge, weight-diff recovery, the architecture's own changes), cast and
appended, so peak memory is about one tensor. The output is written under a temporary name
beside the destination and renamed at the very end: a cancel or crash leaves nothing under the
real name.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

from conversion import alpaca, archs
from conversion.archs import Architecture, PlannedTensor, inspect_checkpoint
from conversion.checkpoint import Checkpoint
from conversion.errors import ConversionError
from conversion.output import check_destination, partial_file
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.sources import WeightSource, open_weights
from conversion.vocab import (
    Vocab,
    bpe_vocab,
    json_space_prefix,
    sentencepiece_vocab,
    special_vocab,
    wordpiece_vocab,
)

log = logging.getLogger(__name__)

OUTTYPES = ("auto", "f32", "f16", "bf16", "q8_0")
TEMPLATES = ("auto", "alpaca")
_QUANT = gguf.GGMLQuantizationType
_FILE_TYPES = {
    "f32": gguf.LlamaFileType.ALL_F32,
    "f16": gguf.LlamaFileType.MOSTLY_F16,
    "bf16": gguf.LlamaFileType.MOSTLY_BF16,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}


@dataclass
class ConversionResult:
    path: Path
    outtype: str
    tensors: int
    bytes_written: int
    seconds: float
    chat_template: str  # "model", "alpaca" or ""
    integrity: dict[str, float | bool] = field(default_factory=dict)  # weight-diff check


def resolve_outtype(outtype: str, weights: WeightSource) -> str:
    outtype = outtype.lower()
    if outtype not in OUTTYPES:
        raise ConversionError(
            f"Unknown output type “{outtype}”.",
            f"Choose one of {', '.join(OUTTYPES)} (quantize afterwards for Q4_K_M and friends).",
        )
    if outtype != "auto":
        return outtype
    dtypes = {weights.dtype(name) for name in weights.names()}
    return {"BF16": "bf16", "F16": "f16", "F32": "f32"}[
        "BF16" if "BF16" in dtypes else "F16" if "F16" in dtypes else "F32"
    ]


def tensor_type(
    outtype: str, shape: tuple[int, ...], force_f32: bool = False
) -> gguf.GGMLQuantizationType:
    """Norms and other 1-D tensors stay F32; Q8_0 needs rows divisible by its block."""
    if len(shape) < 2 or outtype == "f32" or force_f32:
        return _QUANT.F32
    if outtype == "q8_0":
        block = gguf.GGML_QUANT_SIZES[_QUANT.Q8_0][0]
        return _QUANT.Q8_0 if shape[-1] % block == 0 else _QUANT.F16
    return _QUANT.BF16 if outtype == "bf16" else _QUANT.F16


def encode(data: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    if qtype == _QUANT.F32:
        return np.ascontiguousarray(data, dtype=np.float32)
    if qtype == _QUANT.F16:
        return np.ascontiguousarray(data, dtype=np.float16)
    return gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), qtype)


def encoded_nbytes(shape: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> int:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return rows * (shape[-1] // block) * size


def load_vocab(ckpt: Checkpoint, size: int = 0) -> Vocab:
    """The vocabulary, padded to ``size`` (the token embeddings' rows; 0: config.json's)."""
    declared = size or int(ckpt.hparam("vocab_size", default=0) or 0)
    if ckpt.tokenizer == "sentencepiece":
        return sentencepiece_vocab(ckpt, declared)
    if ckpt.tokenizer == "wordpiece":
        return wordpiece_vocab(ckpt, declared)
    return bpe_vocab(ckpt, declared or _bpe_size(ckpt))


def _bpe_size(ckpt: Checkpoint) -> int:
    data = ckpt.tokenizer_json
    ids = list(data["model"]["vocab"].values()) + [t["id"] for t in data.get("added_tokens", [])]
    return max(ids) + 1


def _write_metadata(
    writer: gguf.GGUFWriter,
    arch: Architecture,
    vocab: Vocab,
    outtype: str,
    template: str,
    name: str = "",
) -> str:
    ckpt = arch.ckpt
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name or ckpt.name)
    arch.add_hyperparameters(writer, len(vocab.tokens))
    writer.add_file_type(_FILE_TYPES[outtype])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_tokenizer_model(vocab.model)
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    if vocab.scores is not None:
        writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    arch.add_tokenizer_metadata(writer)
    specials = special_vocab(ckpt, vocab)
    source = "model" if specials.chat_template else ""
    if not arch.chat:
        specials.chat_template = None  # an encoder: nothing to chat with
    elif template == "alpaca" or not specials.chat_template:
        specials.chat_template = alpaca.CHAT_TEMPLATE
        source = "alpaca"
    specials.add_to_gguf(writer)
    prefix = arch.add_space_prefix
    if prefix is None:
        prefix = ckpt.tokenizer_config.get("add_prefix_space")
    if prefix is None and vocab.model == "llama" and not (ckpt.path / "tokenizer.model").is_file():
        prefix = json_space_prefix(ckpt)  # a SentencePiece vocabulary in tokenizer.json
    if isinstance(prefix, bool):
        writer.add_add_space_prefix(prefix)
    return source


def convert(
    src: str | Path,
    dst: str | Path,
    outtype: str = "f16",
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    lora: str | Path | None = None,
    recover_from: str | Path | None = None,
    template: str = "auto",
    force: bool = False,
    name: str = "",
) -> ConversionResult:
    """Convert the checkpoint folder ``src`` to the GGUF file ``dst``.

    ``lora``: a PEFT adapter folder merged into the weights. ``recover_from``: the raw LLaMA
    folder to which ``src`` (an Alpaca weight diff) is added. ``template``: ``auto`` keeps the
    model's chat template (Alpaca's when it has none); ``alpaca`` forces the Stanford template.
    ``name``: the model's ``general.name`` (the checkpoint's own name or folder name otherwise).
    """
    started = time.perf_counter()
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if template not in TEMPLATES:
        raise ConversionError(f"Unknown template “{template}”.", "Choose auto or alpaca.")
    check_destination(dst, force)
    ckpt = inspect_checkpoint(src)
    arch = archs.for_checkpoint(ckpt)
    progress(0.0, f"Reading {ckpt.name}")
    with open_weights(ckpt, lora=lora, recover_from=recover_from) as weights:
        vocab = load_vocab(ckpt, arch.check_against_weights(weights.names(), weights.shape))
        outtype = resolve_outtype(outtype, weights)
        plan = arch.plan(weights.names(), weights.shape, weights.float32, len(vocab.tokens))
        qtypes = [tensor_type(outtype, t.shape, t.force_f32) for t in plan]
        writer = gguf.GGUFWriter(None, arch.name)
        chat_template = _write_metadata(writer, arch, vocab, outtype, template, name)
        for tensor, qtype in zip(plan, qtypes, strict=True):
            writer.add_tensor_info(
                tensor.name,
                tensor.shape,
                np.dtype(np.float32),
                encoded_nbytes(tensor.shape, qtype),
                raw_dtype=qtype,
            )
        written = _write_atomically(
            dst, writer, lambda: _tensors(plan, qtypes), progress, cancel, total=len(plan)
        )
        integrity = weights.integrity()
    progress(1.0, f"Wrote {dst.name}")
    return ConversionResult(
        dst, outtype, len(plan), written, time.perf_counter() - started, chat_template, integrity
    )


def _tensors(plan: list[PlannedTensor], qtypes: list[gguf.GGMLQuantizationType]):
    for tensor, qtype in zip(plan, qtypes, strict=True):
        yield encode(tensor.load(), qtype)


def _write_atomically(
    dst: Path,
    writer: gguf.GGUFWriter,
    tensors: Callable,
    progress: Progress,
    cancel: CancelToken,
    total: int,
) -> int:
    tmp = partial_file(dst)
    try:
        writer.write_header_to_file(tmp)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for index, data in enumerate(tensors()):
            cancel.check()
            writer.write_tensor_data(data)
            progress((index + 1) / total * 0.99, f"Tensor {index + 1}/{total}")
        writer.flush()
        assert writer.fout is not None
        os.fsync(writer.fout[0].fileno())
        writer.close()
        os.replace(tmp, dst)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return dst.stat().st_size
