"""Tokenizer vocabularies for GGUF: SentencePiece (``tokenizer.model``, or the same vocabulary
in a ``tokenizer.json``, as transformers 5 saves Gemma, LLaMA-2, Mistral and Phi-3) and HF BPE
(``tokenizer.json``), built the way llama.cpp's own converter builds them.

One difference remains: transformers 5's LLaMA tokenizer (saved without ``add_prefix_space``)
puts no "▁" before a text that already begins with a space, where llama.cpp, like SentencePiece
itself, always puts one, so such a text gets one "▁" more. Alpaca's prompts never begin with a
space.

For BPE, llama.cpp chooses its pre-tokenizer by the name in ``tokenizer.ggml.pre``; that name is
found by tokenizing a fixed test text and hashing the token ids (the hashes are llama.cpp's).
Special token ids, ``add_bos``/``add_eos``, merges and the chat template come from
``gguf.SpecialVocab``, which reads ``tokenizer_config.json``, ``config.json`` and
``chat_template.jinja``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

from conversion.checkpoint import Checkpoint
from conversion.errors import CheckpointError, UnsupportedModelError

log = logging.getLogger(__name__)

# llama.cpp's pre-tokenizer test text (convert_hf_to_gguf.py, get_vocab_base_pre).
PRE_TOKENIZER_TEST_TEXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis "
    "concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
    "កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български "
    "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not "
    "sure I'll make it, 'D you like some tea? We'Ve a'lL"
)
# sha256(str(token ids)) → llama.cpp pre-tokenizer, for the LLaMA-family BPE tokenizers.
PRE_TOKENIZER_HASHES = {
    "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",  # Llama 3
    "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",
    "c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d": "smaug-bpe",
    "049ecf7629871e3041641907f3de7c733e4dbfdc736f57d882ba0b0845599754": "deepseek-llm",
    "347715f544604f9118bb75ed199f68779f423cabb20db6de6f31b908d04d7821": "deepseek-coder",
    "63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e": "tekken",  # Mistral Nemo
    "0e9433cbbb161f89e264eb32e8e64bfe69e834973ffca5d41d3948a604a3e2a3": "pixtral",
    "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
    "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",  # Qwen1.5–3
    "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",  # Qwen3-Emb.
    "b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5": "deepseek-r1-qwen",
    "fcace8b9cac38ce847670c970cd5892031a753a1ef381abd1d9af00f713da085": "phi-2",
    # WordPiece (BERT): bert-base-uncased's vocabulary, as all-MiniLM and bge-small use
    "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f": "jina-v2-en",
}
# When the hash is unknown — a fine-tune that re-trained or extended the vocabulary — the split
# rules themselves identify the pre-tokenizer: a byte-level BPE whose tokenizer.json splits
# with exactly the regexes of one of these splits text the same way, which is all that
# ``tokenizer.ggml.pre`` tells llama.cpp (it applies no normalizer to BPE text).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_LLAMA3_SPLIT = _QWEN2_SPLIT.replace(r"\p{N}|", r"\p{N}{1,3}|")
PRE_TOKENIZER_RULES = {
    (("Split", _QWEN2_SPLIT), ("ByteLevel", False)): "qwen2",
    (("Split", _LLAMA3_SPLIT), ("ByteLevel", False)): "llama-bpe",
    (("Digits", True), ("ByteLevel", True)): "smollm",
    (("ByteLevel", True),): "gpt-2",
}

# SentencePiece piece types (sentencepiece_model.proto) → GGUF token types.
_SPM_NORMAL, _SPM_UNKNOWN, _SPM_CONTROL, _SPM_USER, _SPM_UNUSED, _SPM_BYTE = 1, 2, 3, 4, 5, 6
_LOWER_ONE_EIGHTH_BLOCK = "\u2581"


@dataclass
class Vocab:
    model: str  # "llama" (SentencePiece), "gpt2" (BPE) or "bert" (WordPiece)
    pre: str
    tokens: list[bytes] = field(default_factory=list)
    types: list[int] = field(default_factory=list)
    scores: list[float] | None = None


def _looks_special(token: str) -> bool:
    """Added tokens that some models forget to mark special (as llama.cpp's converter sees it)."""
    return (
        (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<｜") and token.endswith("｜>"))  # DeepSeek
        or (token.startswith("<unused") and token.endswith(">"))  # Gemma
    ) or token in {
        "<pad>",
        "<mask>",
        "<2mass>",
        "[@BOS@]",
        "<s>",
        "</s>",
        "<unk>",
    }


def split_rules(tokenizer_json: dict) -> tuple:
    """How a tokenizer.json splits text before BPE: ((step, setting), …)."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    rules = []
    for step in steps:
        kind = step.get("type")
        if kind == "Split":
            rules.append((kind, (step.get("pattern") or {}).get("Regex")))
        elif kind == "ByteLevel":
            rules.append((kind, bool(step.get("use_regex", True))))
        elif kind == "Digits":
            rules.append((kind, bool(step.get("individual_digits"))))
        else:
            rules.append((kind, None))
    return tuple(rules)


def pre_tokenizer_name(tokenizer_json: dict[str, Any]) -> str:
    """The llama.cpp pre-tokenizer of a BPE ``tokenizer.json`` (its parsed content): by
    llama.cpp's hash test, or for an unknown vocabulary by its split rules (see
    ``PRE_TOKENIZER_RULES``)."""
    from tokenizers import Tokenizer  # torch-free (Rust)

    try:
        tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
    except Exception as exc:  # the Rust library raises plain Exceptions
        raise CheckpointError(f"“tokenizer.json” cannot be read: {exc}") from exc
    tokenizer.no_truncation()  # as transformers loads it (some save truncation at 128)
    tokenizer.no_padding()
    ids = tokenizer.encode(PRE_TOKENIZER_TEST_TEXT).ids
    digest = hashlib.sha256(str(ids).encode()).hexdigest()
    name = PRE_TOKENIZER_HASHES.get(digest)
    if name is None:
        rules = split_rules(tokenizer_json)
        name = PRE_TOKENIZER_RULES.get(rules)
        if name is not None:
            log.info("pre-tokenizer %s recognised by its split rules (hash %s)", name, digest)
    if name is None:
        raise UnsupportedModelError(
            "This model's BPE tokenizer splits text in a way Huacaya does not recognise "
            f"(pre-tokenizer hash {digest[:16]}…).",
            "Supported: Llama 3, SmolLM/SmolLM2, Qwen2/2.5/3, DeepSeek, Mistral Nemo, GPT-2. "
            "For others, use a GGUF made by llama.cpp's converter.",
        )
    return name


def bpe_vocab(ckpt: Checkpoint, vocab_size: int) -> Vocab:
    data = ckpt.tokenizer_json
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise UnsupportedModelError(
            f"The tokenizer in “tokenizer.json” is {model.get('type')!r}; expected BPE."
        )
    reverse: dict[int, str] = {i: t for t, i in model.get("vocab", {}).items()}
    added = {t["id"]: t for t in data.get("added_tokens", [])}
    for token_id, info in added.items():
        reverse[token_id] = info["content"]
    if reverse and max(reverse) >= vocab_size:
        raise CheckpointError(
            f"The tokenizer has token id {max(reverse)} but the model's vocab_size is {vocab_size}."
        )
    vocab = Vocab(model="gpt2", pre=pre_tokenizer_name(data))
    for i in range(vocab_size):
        if i not in reverse:
            vocab.tokens.append(f"[PAD{i}]".encode())
            vocab.types.append(gguf.TokenType.UNUSED)
            continue
        token = reverse[i]
        if i in added:
            if added[i].get("special") or _looks_special(token):
                vocab.types.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace(_LOWER_ONE_EIGHTH_BLOCK, " ")
                vocab.types.append(gguf.TokenType.USER_DEFINED)
        else:
            vocab.types.append(gguf.TokenType.NORMAL)
        vocab.tokens.append(token.encode("utf-8"))
    return vocab


def wordpiece_vocab(ckpt: Checkpoint, vocab_size: int) -> Vocab:
    """BERT's WordPiece vocabulary, in llama.cpp's "phantom space" spelling: a word-initial
    piece gets a leading ▁, a continuation loses its ``##``, special tokens stay as they are."""
    data = ckpt.tokenizer_json
    reverse: dict[int, str] = {i: t for t, i in data["model"]["vocab"].items()}
    added = {t["id"]: t for t in data.get("added_tokens", [])}
    for token_id, info in added.items():
        reverse[token_id] = info["content"]
    size = vocab_size or max(reverse) + 1
    if reverse and max(reverse) >= size:
        raise CheckpointError(
            f"The tokenizer has token id {max(reverse)} but the model's vocab_size is {size}."
        )
    vocab = Vocab(model="bert", pre=pre_tokenizer_name(data))
    for i in range(size):
        token = reverse.get(i)
        if token is None:
            vocab.tokens.append(f"[PAD{i}]".encode())
            vocab.types.append(gguf.TokenType.UNUSED)
        elif i in added and (added[i].get("special") or _looks_special(token)):
            vocab.tokens.append(token.encode("utf-8"))
            vocab.types.append(gguf.TokenType.CONTROL)
        else:
            kind = gguf.TokenType.USER_DEFINED if i in added else gguf.TokenType.NORMAL
            text = token[2:] if token.startswith("##") else _LOWER_ONE_EIGHTH_BLOCK + token
            vocab.tokens.append(text.encode("utf-8"))
            vocab.types.append(kind)
    return vocab


def json_space_prefix(ckpt: Checkpoint) -> bool | None:
    """Whether a SentencePiece tokenizer.json puts "▁" before the text (llama.cpp's
    ``add_space_prefix``): a Prepend normalizer or a Metaspace that prepends."""
    if ckpt.json_file("tokenizer.json") is None:
        return None
    data = ckpt.tokenizer_json
    text = json.dumps([data.get("normalizer"), data.get("pre_tokenizer")], ensure_ascii=False)
    if '"Prepend"' in text:
        return True
    pre = data.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    for step in steps:
        if isinstance(step, dict) and step.get("type") == "Metaspace":
            scheme = step.get("prepend_scheme", "always" if step.get("add_prefix_space") else "")
            return scheme in ("first", "always")
    return False


def sentencepiece_vocab(ckpt: Checkpoint, vocab_size: int) -> Vocab:
    """``tokenizer.model`` plus added tokens (Alpaca's ``[PAD]``), padded to ``vocab_size``; a
    folder with only ``tokenizer.json`` is read from there (:func:`sentencepiece_json_vocab`)."""
    from sentencepiece import SentencePieceProcessor

    if not (ckpt.path / "tokenizer.model").is_file() and ckpt.json_file("tokenizer.json"):
        return sentencepiece_json_vocab(ckpt, vocab_size)

    processor = SentencePieceProcessor()
    try:
        processor.LoadFromFile(str(ckpt.path / "tokenizer.model"))
    except (OSError, RuntimeError) as exc:
        raise CheckpointError("“tokenizer.model” is missing or damaged.") from exc
    base = processor.vocab_size()
    size = max(vocab_size, base) if vocab_size else base
    tokens = [f"[PAD{i}]".encode() for i in range(size)]
    scores = [-10000.0] * size
    types = [int(gguf.TokenType.UNUSED)] * size
    for i in range(min(base, size)):
        piece_type = _SPM_NORMAL
        if processor.IsUnknown(i):
            piece_type = _SPM_UNKNOWN
        elif processor.IsControl(i):
            piece_type = _SPM_CONTROL
        elif processor.IsUnused(i):
            piece_type = _SPM_UNUSED
        elif processor.IsByte(i):
            piece_type = _SPM_BYTE
        tokens[i] = processor.IdToPiece(i).encode("utf-8")
        scores[i] = processor.GetScore(i)
        types[i] = piece_type
    for token_id, content, special in _added_tokens(ckpt):
        if token_id >= size:
            raise CheckpointError(
                f"Added token {content!r} has id {token_id}, beyond the model's vocab_size {size}."
            )
        if special or _looks_special(content):
            types[token_id] = gguf.TokenType.CONTROL
        else:
            content = content.replace(_LOWER_ONE_EIGHTH_BLOCK, " ")
            types[token_id] = gguf.TokenType.USER_DEFINED
        tokens[token_id] = content.encode("utf-8")
        scores[token_id] = -1000.0
    return Vocab(model="llama", pre="default", tokens=tokens, types=types, scores=scores)


def sentencepiece_json_vocab(ckpt: Checkpoint, vocab_size: int) -> Vocab:
    """A SentencePiece BPE vocabulary from tokenizer.json, as llama.cpp's tokenizer needs it.

    llama.cpp's SentencePiece tokenizer merges, at each step, the adjacent pair whose joined
    piece has the highest score. transformers built the merges of such a tokenizer.json from the
    SentencePiece scores (every pair whose join is a piece, ordered by that piece's score), so
    the score of a piece is recovered as minus the rank of the first merge that makes it. Byte
    pieces (``<0x41>``) are BYTE, the unknown piece UNKNOWN, special added tokens CONTROL.
    Added tokens beyond the model's vocabulary (transformers 5 adds ``<mask>`` to Gemma's) have
    no embedding and are left out."""
    data = ckpt.tokenizer_json
    model = data.get("model") or {}
    pieces: dict[str, int] = model.get("vocab") or {}
    if not pieces:
        raise CheckpointError(f"“{ckpt.path.name}/tokenizer.json” holds no vocabulary.")
    rank: dict[str, int] = {}
    for index, merge in enumerate(model.get("merges") or []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        rank.setdefault(left + right, index)
    base = max(pieces.values()) + 1
    size = max(vocab_size, base) if vocab_size else base
    if vocab_size and base > vocab_size:
        raise CheckpointError(
            f"The tokenizer has token id {base - 1} but the model's vocab_size is {vocab_size}."
        )
    tokens = [f"[PAD{i}]".encode() for i in range(size)]
    scores = [-10000.0] * size
    types = [int(gguf.TokenType.UNUSED)] * size
    unknown = model.get("unk_token")
    for piece, token_id in pieces.items():
        tokens[token_id] = piece.encode("utf-8")
        if re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", piece):
            types[token_id], scores[token_id] = _SPM_BYTE, 0.0
        elif piece == unknown:
            types[token_id], scores[token_id] = _SPM_UNKNOWN, 0.0
        else:
            types[token_id] = _SPM_NORMAL
            scores[token_id] = -float(rank.get(piece, len(rank) + token_id))
    added = [(t["id"], t["content"], bool(t.get("special"))) for t in data.get("added_tokens", [])]
    for token_id, content, special in [*added, *_added_tokens(ckpt)]:
        if token_id >= size:
            log.warning("added token %r (id %d) lies beyond the vocabulary", content, token_id)
            continue
        if content in (unknown, "<unk>"):
            types[token_id], scores[token_id] = _SPM_UNKNOWN, 0.0
        elif special or _looks_special(content):
            types[token_id], scores[token_id] = int(gguf.TokenType.CONTROL), 0.0
        else:
            content = content.replace(_LOWER_ONE_EIGHTH_BLOCK, " ")
            types[token_id], scores[token_id] = int(gguf.TokenType.USER_DEFINED), -1000.0
        tokens[token_id] = content.encode("utf-8")
    return Vocab(model="llama", pre="default", tokens=tokens, types=types, scores=scores)


def _added_tokens(ckpt: Checkpoint) -> list[tuple[int, str, bool]]:
    """(id, text, special) from added_tokens.json and tokenizer_config.json, later wins."""
    found: dict[int, tuple[str, bool]] = {}
    for content, token_id in (ckpt.json_file("added_tokens.json") or {}).items():
        found[int(token_id)] = (content, False)
    decoder = ckpt.tokenizer_config.get("added_tokens_decoder", {})
    for token_id, info in decoder.items():
        found[int(token_id)] = (info["content"], bool(info.get("special")))
    return [(i, text, special) for i, (text, special) in sorted(found.items())]


# The special tokens a GGUF can record (gguf-py has no field for BERT's [CLS]: llama.cpp uses
# the BOS id, which is the same token there); asking for others only prints a warning.
_SPECIAL_TYPES = tuple(
    kind
    for kind in ("bos", "eos", "unk", "sep", "pad", "cls", "mask")
    if hasattr(gguf.GGUFWriter, f"add_{kind}_token_id")
)


class _SpecialVocab(gguf.SpecialVocab):
    """gguf's reader, given config.json as the checkpoint read it rather than reading it again
    (the loop is gguf's ``_try_load_from_config_json``)."""

    def __init__(self, ckpt: Checkpoint, **options: Any) -> None:
        self.config = ckpt.config
        super().__init__(ckpt.path, **options)

    def _try_load_from_config_json(self, path: Path) -> bool:
        for typ in self.special_token_types:
            token_id = self.config.get(f"{typ}_token_id")
            if token_id is None and "text_config" in self.config:  # multimodal models
                token_id = self.config["text_config"].get(f"{typ}_token_id")
            self._set_special_token(typ, token_id)
        return True


def special_vocab(ckpt: Checkpoint, vocab: Vocab) -> gguf.SpecialVocab:
    """bos/eos/unk/pad ids, add_bos/add_eos, merges (BPE) and the chat template."""
    specials = _SpecialVocab(
        ckpt,
        load_merges=vocab.model == "gpt2",
        special_token_types=_SPECIAL_TYPES,
        n_vocab=len(vocab.tokens),
    )
    if vocab.model == "llama":
        _template_flags(ckpt, specials)
    return specials


def _template_flags(ckpt: Checkpoint, specials: gguf.SpecialVocab) -> None:
    """add_bos/add_eos from tokenizer.json's post-processor where tokenizer_config.json does not
    say (transformers 5 no longer writes add_bos_token there): llama.cpp would otherwise add a
    BOS to every SentencePiece model, also to Phi-3, whose tokenizer adds none."""
    data = ckpt.json_file("tokenizer.json") or {}
    post = data.get("post_processor") or {}
    if not isinstance(post, dict) or post.get("type") != "TemplateProcessing":
        return
    single = post.get("single")
    if not isinstance(single, list) or not single:
        return
    specials.add_special_token.setdefault("bos", "SpecialToken" in single[0])
    specials.add_special_token.setdefault("eos", "SpecialToken" in single[-1])
