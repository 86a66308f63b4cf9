"""A fine-tune of a quantized GGUF, put back into that GGUF's quantization without losing it.

Requantizing a merged model to the base's own type erases a small fine-tune: the base's
dequantized weights lie exactly on its quantization grid, a LoRA moves them by less than half a
step, and the quantizer rounds them straight back (measured: a 2-step LoRA that moved the
starter's answers by a KL of 0.17 nats came back from Q4_1 at 0.005 of the untouched starter).
So here the tensors the fine-tune did not change keep the base's bytes exactly, and those it
changed are stored in Q8_0 (a step 8 times finer than 4-bit types), or F16 where rows do not
split into Q8_0 blocks. The file type stays the base's; llama.cpp reads mixed types per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from conversion.errors import ConversionError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress

_FLOAT_TYPES = {
    gguf.GGMLQuantizationType.F32,
    gguf.GGMLQuantizationType.F16,
    gguf.GGMLQuantizationType.BF16,
}
_SKIPPED_KEYS = ("GGUF.", "general.architecture")  # the writer adds these itself


@dataclass(frozen=True)
class MergeResult:
    kept: int  # tensors with the base's own bytes
    changed: int  # tensors the fine-tune changed, in Q8_0 or F16


def is_quantized(path: Path) -> bool:
    reader = gguf.GGUFReader(str(path))
    return any(t.tensor_type not in _FLOAT_TYPES for t in reader.tensors)


def merge_into_quantization(
    merged_f16: Path,
    base: Path,
    dst: Path,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> MergeResult:
    """Write ``dst``: ``merged_f16`` (a GGUF of the fine-tuned model, made by our converter from
    the checkpoint of ``base``) with every tensor it shares unchanged with ``base`` taken from
    ``base`` byte for byte. ``base`` was checked by ``gguf_file.read_gguf_info`` already."""
    new = gguf.GGUFReader(str(merged_f16))
    old = {t.name: t for t in gguf.GGUFReader(str(base)).tensors}
    plan = []
    for number, tensor in enumerate(new.tensors, 1):
        cancel.check()
        progress(0.5 * number / len(new.tensors), f"comparing {tensor.name}")
        original = old.get(tensor.name)
        data = np.asarray(tensor.data)
        if original is not None and list(original.shape) == list(tensor.shape):
            before = gguf.dequantize(original.data, original.tensor_type).reshape(data.shape)
            if np.array_equal(before.astype(data.dtype), data):
                plan.append((tensor.name, original.data, original.tensor_type, original.shape))
                continue
        rows_fit = (
            int(tensor.shape[0]) % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0
        )
        if tensor.tensor_type in _FLOAT_TYPES and len(tensor.shape) > 1 and rows_fit:
            q8 = gguf.quants.quantize(data.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
            plan.append((tensor.name, q8, gguf.GGMLQuantizationType.Q8_0, tensor.shape))
        else:
            plan.append((tensor.name, tensor.data, tensor.tensor_type, tensor.shape))
    kept = sum(1 for name, _, qtype, _ in plan if name in old and old[name].tensor_type == qtype)
    if kept == 0:
        raise ConversionError(
            "The fine-tuned model shares no tensor with its base GGUF.",
            "Export it with a type instead (--export-gguf q4_k_m).",
        )
    architecture = str(new.fields["general.architecture"].contents())
    writer = gguf.GGUFWriter(str(dst), architecture)
    for key, field in new.fields.items():
        if key.startswith(_SKIPPED_KEYS):
            continue
        value = field.contents()
        if key == "general.file_type":
            value = int(gguf.GGUFReader(str(base)).fields[key].contents())
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, field.types[0], sub_type=sub_type)
    for name, data, qtype, _shape in plan:  # quantized data: bytes, shaped (rows, row bytes)
        writer.add_tensor(name, np.asarray(data), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    progress(1.0, f"{kept} tensors kept from the base, {len(plan) - kept} changed")
    return MergeResult(kept, len(plan) - kept)
