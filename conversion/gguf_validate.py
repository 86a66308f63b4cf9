"""What llama.cpp relies on in a GGUF file, checked before llama.cpp sees it.

llama.cpp trusts much of a file's metadata: a context length of 2^31 makes it (or
llama-cpp-python) allocate arrays of that size, a block count of 2^31 makes it loop for hours,
some unexpected types and tokenizer models end in ``abort()``, which takes the whole app down.
:func:`validate_gguf` refuses such files with a message naming the key, from the metadata the
header reader already holds (no weights are read). What a checklist cannot foresee is caught by
loading a new file in a child process first (``desktop.core.models.probe``).

The bounds are generous: ten times the largest values in published models, so no real model is
refused, while values that would exhaust memory or time are.
"""

from __future__ import annotations

import itertools
import math
import re

from conversion.errors import ModelFileError
from conversion.gguf_info import GGUFInfo

_INT_TYPES = frozenset({0, 1, 2, 3, 4, 5, 10, 11})
_FLOAT_TYPES = frozenset({6, 12})
_STRING, _ARRAY = 8, 9

MAX_NAME_BYTES = 63  # GGML_MAX_NAME is 64 with the terminating NUL
MAX_TEMPLATE_CHARS = 1_000_000
MAX_VOCAB = 4_194_304  # 2^22; the largest vocabularies today are ~260k
# llama.cpp's tokenizers ("none"/"no_vocab" models cannot chat or embed text: refused)
TOKENIZER_MODELS = frozenset({"llama", "bert", "gpt2", "t5", "rwkv", "plamo2", "gemma4"})

# key suffix (after "<arch>.") -> (low, high, an array per layer allowed)
_ARCH_INTS: dict[str, tuple[int, int, bool]] = {
    "context_length": (1, 1 << 24, False),
    "block_count": (1, 1024, False),
    "embedding_length": (1, 1 << 17, False),
    "feed_forward_length": (0, 1 << 20, True),
    "expert_feed_forward_length": (0, 1 << 20, False),
    "attention.head_count": (0, 1 << 12, True),
    "attention.head_count_kv": (0, 1 << 12, True),
    "attention.key_length": (0, 1 << 16, False),
    "attention.value_length": (0, 1 << 16, False),
    "attention.sliding_window": (0, 1 << 24, False),
    "rope.dimension_count": (0, 1 << 16, False),
    "vocab_size": (1, MAX_VOCAB, False),
    "expert_count": (0, 4096, False),
    "expert_used_count": (0, 4096, False),
}
_ARCH_FLOATS = (
    "attention.layer_norm_rms_epsilon",
    "attention.layer_norm_epsilon",
    "rope.freq_base",
    "rope.scaling.factor",
    "logit_scale",
)
_TOKEN_ID_KEY = re.compile(r"^tokenizer\.ggml\.\w+_token_id$")
_BLOCK = re.compile(r"^blk\.(\d+)\.")


def _damaged(info: GGUFInfo, what: str) -> ModelFileError:
    return ModelFileError(
        f"“{info.path.name}” is damaged or not a usable model: {what}.",
        "Download or convert the model again; if it came from the Hub, try another upload.",
    )


def _int_value(info: GGUFInfo, key: str, low: int, high: int, per_layer: bool) -> int | None:
    value_type = info.value_types.get(key)
    if value_type is None:
        return None
    if value_type == _ARRAY and per_layer:
        if info.array_types.get(key) not in _INT_TYPES:
            raise _damaged(info, f"{key} must hold whole numbers")
        values = info.metadata.get(key) or ()  # empty when longer than the reader keeps
        if any(not low <= v <= high for v in values):
            raise _damaged(info, f"{key} holds values outside {low}…{high}")
        return None
    value = info.metadata.get(key)
    if value_type not in _INT_TYPES or type(value) is not int:
        raise _damaged(info, f"{key} must be a whole number, not {_kind(value_type)}")
    if not low <= value <= high:
        raise _damaged(info, f"{key} is {value:,}, outside {low:,}…{high:,}")
    return value


def _kind(value_type: int) -> str:
    if value_type == _STRING:
        return "text"
    if value_type == _ARRAY:
        return "a list"
    if value_type in _FLOAT_TYPES:
        return "a fraction"
    return "a yes/no value" if value_type == 7 else f"value type {value_type}"


def _check_general(info: GGUFInfo) -> str:
    arch = info.metadata.get("general.architecture")
    if info.value_types.get("general.architecture") != _STRING or not isinstance(arch, str):
        raise _damaged(info, "general.architecture is missing or not text")
    if not re.fullmatch(r"[a-z0-9_\-.]{1,64}", arch):
        raise _damaged(info, f"general.architecture {arch[:40]!r} is not a model architecture")
    _int_value(info, "general.file_type", 0, 1024, False)
    for key in ("general.name", "tokenizer.chat_template", "tokenizer.ggml.pre"):
        if key in info.value_types and info.value_types[key] != _STRING:
            raise _damaged(info, f"{key} must be text, not {_kind(info.value_types[key])}")
    template = info.metadata.get("tokenizer.chat_template")
    if isinstance(template, str) and len(template) > MAX_TEMPLATE_CHARS:
        raise _damaged(info, f"its chat template is {len(template):,} characters long")
    return arch


def _check_hyperparameters(info: GGUFInfo, arch: str) -> dict[str, int | None]:
    values = {
        suffix: _int_value(info, f"{arch}.{suffix}", low, high, per_layer)
        for suffix, (low, high, per_layer) in _ARCH_INTS.items()
    }
    for suffix in _ARCH_FLOATS:
        key = f"{arch}.{suffix}"
        if key not in info.value_types:
            continue
        value = info.metadata.get(key)
        if info.value_types[key] not in _FLOAT_TYPES or not math.isfinite(float(value or 0)):
            raise _damaged(info, f"{key} must be a finite number")
    experts, used = values["expert_count"], values["expert_used_count"]
    if used and (experts is None or used > experts):
        raise _damaged(info, f"{arch}.expert_used_count {used} exceeds the expert count")
    return values


def _check_tokenizer(info: GGUFInfo) -> int | None:
    model = info.metadata.get("tokenizer.ggml.model")
    if "tokenizer.ggml.model" in info.value_types and (
        info.value_types["tokenizer.ggml.model"] != _STRING or model not in TOKENIZER_MODELS
    ):
        raise _damaged(info, f"its tokenizer model {str(model)[:40]!r} is unknown")
    n_tokens = info.array_lengths.get("tokenizer.ggml.tokens")
    if "tokenizer.ggml.tokens" in info.value_types:
        if info.array_types.get("tokenizer.ggml.tokens") != _STRING:
            raise _damaged(info, "tokenizer.ggml.tokens must be a list of text")
        if not n_tokens or n_tokens > MAX_VOCAB:
            raise _damaged(info, f"its vocabulary has {n_tokens:,} tokens")
    elif model is not None:
        raise _damaged(info, "it has a tokenizer model but no tokens")
    for key, item_types in (
        ("tokenizer.ggml.scores", _FLOAT_TYPES),
        ("tokenizer.ggml.token_type", _INT_TYPES),
    ):
        if key not in info.value_types:
            continue
        if info.array_types.get(key) not in item_types or info.array_lengths.get(key) != n_tokens:
            raise _damaged(info, f"{key} does not match the {n_tokens or 0:,} tokens")
    if model == "gpt2" and info.array_types.get("tokenizer.ggml.merges") != _STRING:
        raise _damaged(info, "its BPE tokenizer has no merges list")
    for key, value_type in info.value_types.items():
        if _TOKEN_ID_KEY.match(key) and value_type not in _INT_TYPES:
            raise _damaged(info, f"{key} must be a whole number, not {_kind(value_type)}")
    return n_tokens


def _check_tensors(info: GGUFInfo, hparams: dict[str, int | None], n_tokens: int | None) -> None:
    seen: set[str] = set()
    blocks = hparams["block_count"]
    for tensor in info.tensors:
        if len(tensor.name.encode()) > MAX_NAME_BYTES or not tensor.name.isprintable():
            raise _damaged(info, f"the tensor name {tensor.name[:40]!r}… is invalid")
        if tensor.name in seen:
            raise _damaged(info, f"the tensor {tensor.name} appears twice")
        seen.add(tensor.name)
        if any(dim == 0 or dim >= 1 << 40 for dim in tensor.dims) or math.prod(tensor.dims) >= (
            1 << 62
        ):
            raise _damaged(info, f"the tensor {tensor.name} has the shape {list(tensor.dims)}")
        if tensor.offset % info.alignment:
            raise _damaged(info, f"the tensor {tensor.name} is not aligned")
        block = _BLOCK.match(tensor.name)
        if block and blocks is not None and int(block.group(1)) >= blocks:
            raise _damaged(info, f"{tensor.name} lies beyond the {blocks} layers it declares")
    spans = sorted((t.offset, t.offset + t.nbytes, t.name) for t in info.tensors)
    for (_, end, name), (start, _, following) in itertools.pairwise(spans):
        if start < end:
            raise _damaged(info, f"the tensors {name} and {following} overlap")
    embedding = next((t for t in info.tensors if t.name == "token_embd.weight"), None)
    if embedding is not None and len(embedding.dims) == 2:
        width, rows = embedding.dims
        if hparams["embedding_length"] not in (None, width):
            raise _damaged(info, "its embedding width does not match its token embeddings")
        if n_tokens is not None and rows != n_tokens:
            raise _damaged(info, f"it has {n_tokens:,} tokens but {rows:,} token embeddings")


def validate_gguf(info: GGUFInfo) -> None:
    """Raise :class:`ModelFileError` naming the first thing llama.cpp could not safely use."""
    arch = _check_general(info)
    hparams = _check_hyperparameters(info, arch)
    n_tokens = _check_tokenizer(info)
    _check_tensors(info, hparams, n_tokens)
