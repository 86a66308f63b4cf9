"""BERT encoders (``BertModel``; sentence-transformers checkpoints such as all-MiniLM-L6-v2):
learned position and token-type embeddings, LayerNorm with biases, non-causal attention, and
the sentence pooling (mean, CLS or last token) read from ``1_Pooling/config.json``; and BERT
cross-encoders (``BertForSequenceClassification``), which llama.cpp runs with rank pooling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import ClassVar

import gguf

from conversion.archs.base import Architecture, Loader, PlannedTensor
from conversion.checkpoint import read_json
from conversion.errors import CheckpointError, UnsupportedModelError

_POOLING_MODES = {
    "pooling_mode_mean_tokens": gguf.PoolingType.MEAN,
    "pooling_mode_cls_token": gguf.PoolingType.CLS,
    "pooling_mode_lasttoken": gguf.PoolingType.LAST,
}
_POOLING_NAMES = {
    "mean": gguf.PoolingType.MEAN,
    "cls": gguf.PoolingType.CLS,
    "lasttoken": gguf.PoolingType.LAST,
}
_SKIPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


class Bert(Architecture):
    hf_names = ("BertModel",)
    examples = "BERT encoders such as all-MiniLM-L6-v2"
    gguf_arch = gguf.MODEL_ARCH.BERT
    tokenizer_kinds = ("wordpiece",)
    chat = False
    global_tensors: ClassVar[tuple[str, ...]] = ("token_embd", "token_embd_norm", "position_embd")
    layer_tensors: ClassVar[tuple[str, ...]] = (
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "attn_output_norm",
        "ffn_up",
        "ffn_down",
        "layer_output_norm",
    )

    def pooling(self) -> gguf.PoolingType | None:
        """The sentence-transformers pooling, or None for a plain BERT checkpoint."""
        modules_file = self.ckpt.path / "modules.json"
        if not modules_file.is_file():
            return None
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
            folder = next(
                (m["path"] for m in modules if str(m.get("type", "")).endswith("Pooling")), None
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CheckpointError(f"“{modules_file.name}” is damaged.") from exc
        if folder is None:
            return None
        config = read_json(self.ckpt.path / folder / "config.json")
        for key, pooling in _POOLING_MODES.items():
            if config.get(key):
                return pooling
        mode = config.get("pooling_mode")
        if mode in _POOLING_NAMES:
            return _POOLING_NAMES[mode]
        raise UnsupportedModelError(
            f"The sentence pooling in {folder}/config.json is not mean, CLS or last token.",
            "llama.cpp supports only these poolings.",
        )

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        config = self.config
        writer.add_block_count(self.ckpt.n_layers)
        writer.add_context_length(int(config.get("max_position_embeddings", 512)))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_head_count(self.ckpt.n_head)
        writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
        writer.add_causal_attention(False)
        pooling = self.pooling()
        if pooling is not None:
            writer.add_pooling_type(pooling)

    def add_tokenizer_metadata(self, writer: gguf.GGUFWriter) -> None:
        writer.add_token_type_count(int(self.config.get("type_vocab_size", 1)))
        # llama.cpp lowercases WordPiece input unless told otherwise: say what the model does
        flags = normalizer_flags(self.ckpt.tokenizer_json.get("normalizer"))
        for name, value in flags.items():
            writer.add_bool(f"tokenizer.ggml.normalizer.{name}", value)

    def hf_name(self, name: str) -> str | None:
        name = name.removeprefix("bert.")
        if name.endswith(".gamma"):
            name = name[: -len(".gamma")] + ".weight"
        if name.endswith(".beta"):
            name = name[: -len(".beta")] + ".bias"
        if name in _SKIPPED or name.startswith("cls."):
            return None  # the pretraining heads: not part of the encoder
        return name

    def expected_shapes(self, vocab_size: int) -> dict[str, tuple[int, ...]]:
        hidden, ffn = int(self.config["hidden_size"]), int(self.config["intermediate_size"])
        return {
            "token_embd.weight": (vocab_size, hidden),
            "position_embd.weight": (int(self.config.get("max_position_embeddings", 512)), hidden),
            "attn_q.weight": (hidden, hidden),
            "attn_k.weight": (hidden, hidden),
            "attn_v.weight": (hidden, hidden),
            "attn_output.weight": (hidden, hidden),
            "ffn_up.weight": (ffn, hidden),
            "ffn_down.weight": (hidden, ffn),
        }


def normalizer_flags(normalizer: dict | None) -> dict[str, bool]:
    """``lowercase`` / ``strip_accents`` of a tokenizer.json normalizer (BertNormalizer,
    Lowercase, StripAccents, or a Sequence of them); unset ones are left out."""
    flags: dict[str, bool] = {}
    steps = [normalizer or {}]
    while steps:
        step = steps.pop(0)
        kind = step.get("type")
        if kind == "Sequence":
            steps.extend(step.get("normalizers") or [])
        elif kind == "Lowercase":
            flags["lowercase"] = True
        elif kind == "StripAccents":
            flags["strip_accents"] = True
        elif kind == "BertNormalizer":
            for name in ("lowercase", "strip_accents"):
                if isinstance(step.get(name), bool):
                    flags[name] = step[name]
    return flags


class BertCrossEncoder(Bert):
    """A BERT cross-encoder (``BertForSequenceClassification`` with one output, such as
    cross-encoder/ms-marco-MiniLM-L-6-v2): the encoder, then BERT's pooler (a dense layer and
    tanh over the [CLS] token) and the classifier, giving one relevance score for a (query,
    passage) pair. llama.cpp runs it with rank pooling: the pooler is its ``cls`` tensor and
    the classifier its ``cls.output``, and the score comes out as the sequence's embedding.

    llama.cpp's own converter leaves the pooler out of BERT models (its BERT is for
    embeddings); a BERT cross-encoder needs it, so this writes it."""

    hf_names = ("BertForSequenceClassification",)
    examples = "BERT cross-encoders (rerankers) such as cross-encoder/ms-marco-MiniLM-L-6-v2"
    global_tensors = (*Bert.global_tensors, "cls", "cls.output")

    def plan(
        self,
        names: list[str],
        shape_of: Callable[[str], tuple[int, ...]],
        load: Loader,
        vocab_size: int,
    ) -> list[PlannedTensor]:
        # transformers 5 leaves the default labels out of config.json: the weights tell
        classifier = next((n for n in names if n.endswith("classifier.weight")), None)
        count = int(shape_of(classifier)[0]) if classifier else 0
        if count != 1:
            raise UnsupportedModelError(
                f"“{self.ckpt.path.name}” classifies into {count} labels; a reranker gives "
                "one relevance score.",
                "Choose a cross-encoder with a single output, e.g. "
                "cross-encoder/ms-marco-MiniLM-L-6-v2.",
            )
        return super().plan(names, shape_of, load, vocab_size)

    def pooling(self) -> gguf.PoolingType | None:
        return gguf.PoolingType.RANK

    def hf_name(self, name: str) -> str | None:
        name = name.removeprefix("bert.")
        if name.startswith("pooler.dense."):
            return "classifier.dense." + name.removeprefix("pooler.dense.")  # → cls
        if name.startswith("classifier."):
            return "classifier.out_proj." + name.removeprefix("classifier.")  # → cls.output
        return super().hf_name(name)

    def expected_shapes(self, vocab_size: int) -> dict[str, tuple[int, ...]]:
        hidden = int(self.config["hidden_size"])
        return {
            **super().expected_shapes(vocab_size),
            "cls.weight": (hidden, hidden),
            "cls.output.weight": (1, hidden),
        }
