"""Checkpoints of Qwen2, Qwen3, Gemma 2, Gemma 3 and Phi-3 as their Hub repositories lay them out,
for the benchmarks (``convert.py``, real sizes) and the conversion tests (tiny ones): each
family's transformers config, a small tokenizer of its family's kind trained here, and a chat
template in its family's style. Needs the ``train`` extra (transformers, sentencepiece)."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoConfig

# The split rules of Qwen2/2.5/3's tokenizer.json (llama.cpp's "qwen2" pre-tokenizer).
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHATML = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{% set content = message['content'] %}"
    "{% if message['role'] == 'assistant' and '</think>' in content %}"
    "{% set content = content.split('</think>')[-1].lstrip('\\n') %}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant') }}{% endif %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)
PHI3 = (
    "{% for message in messages %}"
    "{% if message['role'] in ('system', 'user', 'assistant') and message['content'] %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}"
    "{% else %}{{ eos_token }}{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Alpacas are domesticated camelids from South America, kept for their soft fleece.",
    "Paris is the capital of France; Rome is the capital of Italy.",
    "Instruction: write a poem about the sea. Response: The sea is wide and deep.",
    "Numbers like 12, 345 and 6789 appear in text too, as do symbols: %, $ and #.",
] * 40


def train_sentencepiece(folder: Path, vocab_size: int = 400, **options: object) -> Path:
    import sentencepiece as spm

    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CORPUS), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        bos_id=1,
        eos_id=2,
        unk_id=0,
        pad_id=-1,
        minloglevel=2,
        **options,
    )
    corpus.unlink()
    (folder / "tokenizer.vocab").unlink()
    return folder / "tokenizer.model"


def write_json(path: Path, data: dict) -> None:  # type: ignore[type-arg]
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def qwen_tokenizer(folder: Path, vocab_size: int = 700) -> int:
    """A byte-level BPE with Qwen's split rules and special tokens; returns its size."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    size = tokenizer.get_vocab_size()
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "Qwen2Tokenizer",
            "bos_token": None,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "add_prefix_space": False,
            "chat_template": CHATML,
        },
    )
    return size


def gemma_tokenizer(folder: Path) -> int:
    """A SentencePiece BPE laid out like Gemma's: pad 0, eos 1, bos 2, unk 3, no dummy prefix,
    the turn markers as user-defined pieces."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CORPUS), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=420,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        bos_piece="<bos>",
        eos_piece="<eos>",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        normalization_rule_name="identity",
        user_defined_symbols=["<start_of_turn>", "<end_of_turn>"],
        minloglevel=2,
    )
    corpus.unlink()
    (folder / "tokenizer.vocab").unlink()
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "GemmaTokenizer",
            "bos_token": "<bos>",
            "eos_token": "<eos>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "add_bos_token": True,
            "add_eos_token": False,
            "added_tokens_decoder": {
                str(i): {"content": c, "special": True}
                for i, c in enumerate(
                    ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
                )
            },
            "chat_template": GEMMA,
        },
    )
    processor = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    return processor.vocab_size()


def phi3_tokenizer(folder: Path) -> int:
    """LLaMA's kind of SentencePiece plus Phi-3's added chat tokens (as added_tokens.json)."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    # as LLaMA's and Phi-3's tokenizer.model: whitespace kept as it is
    model = train_sentencepiece(
        folder, remove_extra_whitespaces=False, normalization_rule_name="identity"
    )
    base = spm.SentencePieceProcessor(model_file=str(model)).vocab_size()
    added = ["<|endoftext|>", "<|assistant|>", "<|end|>", "<|system|>", "<|user|>"]
    write_json(folder / "added_tokens.json", {t: base + i for i, t in enumerate(added)})
    decoder = {
        str(base + i): {"content": t, "special": t in ("<|endoftext|>", "<|end|>")}
        for i, t in enumerate(added)
    }
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "LlamaTokenizer",
            "bos_token": "<s>",
            "eos_token": "<|endoftext|>",
            "unk_token": "<unk>",
            "pad_token": "<|endoftext|>",
            "add_bos_token": False,
            "add_eos_token": False,
            "add_prefix_space": True,  # what Phi-3's tokenizer.json does (Prepend "▁")
            "added_tokens_decoder": {
                **{
                    str(i): {"content": c, "special": True}
                    for i, c in ((0, "<unk>"), (1, "<s>"), (2, "</s>"))
                },
                **decoder,
            },
            "chat_template": PHI3,
        },
    )
    return base + len(added) + 3  # padded, as Phi-3's vocab_size is beyond its tokenizer


ARCHITECTURES = {
    "qwen2": ("qwen2", qwen_tokenizer, dict(num_hidden_layers=2, tie_word_embeddings=True)),
    "qwen3": (
        "qwen3",
        qwen_tokenizer,
        dict(num_hidden_layers=2, head_dim=32, tie_word_embeddings=True),
    ),
    "gemma2": (
        "gemma2",
        gemma_tokenizer,
        dict(
            num_hidden_layers=4,
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=8,
            attn_logit_softcapping=5.0,
            final_logit_softcapping=3.0,
        ),
    ),
    "gemma3": (
        "gemma3_text",
        gemma_tokenizer,
        dict(
            num_hidden_layers=7,
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=8,
            rope_local_base_freq=10000.0,
        ),
    ),
    "phi3": (
        "phi3",
        phi3_tokenizer,
        dict(
            num_hidden_layers=2,
            num_key_value_heads=4,
            tie_word_embeddings=False,
        ),
    ),
}


def family_config(kind: str, vocab_size: int, **sizes: object):  # type: ignore[no-untyped-def]
    """A transformers config of ``kind`` with the special token ids its tokenizer uses."""
    model_type, _tokenizer, _extra = ARCHITECTURES[kind]
    config = AutoConfig.for_model(model_type, vocab_size=vocab_size, **sizes)
    if kind.startswith("gemma"):  # Gemma's tokenizer: pad 0, eos 1, bos 2
        config.pad_token_id, config.eos_token_id, config.bos_token_id = 0, 1, 2
    if kind == "phi3":  # its default pad id (32000) lies beyond a small vocabulary
        config.pad_token_id, config.eos_token_id, config.bos_token_id = None, 2, 1
    return config
