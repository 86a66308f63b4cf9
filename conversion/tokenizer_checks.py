"""The tokenizer files of a checkpoint, checked before anything is built from them.

The converter, ``tokenizers`` and ``gguf.SpecialVocab`` read ``tokenizer.json``,
``tokenizer_config.json``, ``added_tokens.json``, the chat template files and ``merges.txt``
and trust their shapes: a vocabulary given as a list, token ids given as text, ``model: null``
or a template made of numbers ended in a traceback. So, as ``config_checks`` does for
config.json, every field they use is checked here first, and a bad one is named in one line
(``tokenizer.json: added_tokens[3].id should be a whole number from 0 to 4,194,304``).
Fields nobody reads are left alone, so a newer transformers' additions never cause a refusal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from conversion.errors import CheckpointError
from conversion.input_files import MAX_JSON_BYTES, read_regular

if TYPE_CHECKING:
    from conversion.checkpoint import Checkpoint

MAX_TOKEN_ID = 1 << 22  # config_checks' vocab_size bound
MAX_TEMPLATE_CHARS = 1_000_000  # gguf_validate refuses longer templates in a GGUF
MAX_TEMPLATE_BYTES = 4 * MAX_TEMPLATE_CHARS
SPECIAL_TOKENS = ("bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom")


class _Refusal(Exception):
    def __init__(self, where: str, expected: str, value: Any) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        super().__init__(f"{where} should be {expected} (it is {shown})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_id(value: Any, where: str) -> int:
    if not (_is_int(value) and 0 <= value < MAX_TOKEN_ID):
        raise _Refusal(where, f"a whole number from 0 to {MAX_TOKEN_ID:,}", value)
    return value


def _kind(value: Any, kinds: type | tuple[type, ...], expected: str, where: str) -> Any:
    if not isinstance(value, kinds):
        raise _Refusal(where, expected, value)
    return value


def _optional(data: dict[str, Any], key: str, kinds: type | tuple[type, ...], expected: str,
              where: str) -> Any:  # fmt: skip
    value = data.get(key)
    return None if value is None else _kind(value, kinds, expected, f"{where}{key}")


def _added_token(value: Any, where: str) -> None:
    _kind(value, dict, "an object", where)
    _token_id(value.get("id"), f"{where}.id")
    _kind(value.get("content"), str, "text", f"{where}.content")
    _optional(value, "special", bool, "true or false", f"{where}.")


def check_tokenizer_json(data: Any) -> None:
    """The fields of ``tokenizer.json`` that the converter, ``tokenizers`` and SpecialVocab
    use."""
    _kind(data, dict, "an object", "the file")
    model = _kind(data.get("model"), dict, "an object", "model")
    _optional(model, "type", str, "text", "model.")
    vocab = model.get("vocab")
    if model.get("type") in (None, "BPE", "WordPiece", "WordLevel"):
        _kind(vocab, dict, "an object of token → id", "model.vocab")
        for token, token_id in vocab.items():
            _token_id(token_id, f"model.vocab[{token[:30]!r}]")
    elif vocab is not None:  # Unigram: [[piece, score], …]
        _kind(vocab, list, "a list", "model.vocab")
    merges = model.get("merges")
    if merges is not None:
        _kind(merges, list, "a list", "model.merges")
        for index, merge in enumerate(merges):
            pair = isinstance(merge, list) and len(merge) == 2
            text = isinstance(merge, str) and " " in merge
            if not (text or (pair and all(isinstance(p, str) for p in merge))):
                raise _Refusal(
                    f"model.merges[{index}]", "two pieces with a space between, or a pair", merge
                )
    added = data.get("added_tokens")
    if added is not None:
        _kind(added, list, "a list", "added_tokens")
        for index, token in enumerate(added):
            _added_token(token, f"added_tokens[{index}]")
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        _optional(data, key, dict, "an object", "")
    pre = data.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    _kind(steps, list, "a list", "pre_tokenizer.pretokenizers")
    for index, step in enumerate(steps):
        where = f"pre_tokenizer.pretokenizers[{index}]"
        _kind(step, dict, "an object", where)
        pattern = _optional(step, "pattern", dict, "an object", f"{where}.")
        if pattern is not None:
            _optional(pattern, "Regex", str, "text", f"{where}.pattern.")
    post = data.get("post_processor") or {}
    processors = post.get("processors", [post])
    _kind(processors, list, "a list", "post_processor.processors")
    for index, processor in enumerate(processors):
        _check_processor(processor, f"post_processor.processors[{index}]")


def _check_processor(processor: Any, where: str) -> None:
    """What gguf.SpecialVocab reads of a RobertaProcessing or TemplateProcessing step."""
    _kind(processor, dict, "an object", where)
    for key in ("cls", "sep"):
        value = processor.get(key)
        if value is not None and not (isinstance(value, list) and value):
            raise _Refusal(f"{where}.{key}", "a non-empty list", value)
    for key in ("single", "pair"):
        items = _optional(processor, key, list, "a list", f"{where}.") or []
        for index, item in enumerate(items):
            _kind(item, dict, "an object", f"{where}.{key}[{index}]")
            for part in ("SpecialToken", "Sequence"):
                _optional(item, part, dict, "an object", f"{where}.{key}[{index}].")


def _template(value: Any, where: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_TEMPLATE_CHARS:
            raise _Refusal(where, f"at most {MAX_TEMPLATE_CHARS:,} characters", len(value))
        return
    _kind(value, list, "text, or a list of named templates", where)
    for index, item in enumerate(value):
        _kind(item, dict, "an object with a name and a template", f"{where}[{index}]")
        _kind(item.get("name"), str, "text", f"{where}[{index}].name")
        _template_text(item.get("template"), f"{where}[{index}].template")


def _template_text(value: Any, where: str) -> None:
    _kind(value, str, "text", where)
    _template(value, where)


def check_tokenizer_config(data: Any) -> None:
    """The fields of ``tokenizer_config.json`` that the converter and SpecialVocab use."""
    _kind(data, dict, "an object", "the file")
    if data.get("chat_template") is not None:
        _template(data["chat_template"], "chat_template")
    _optional(data, "add_prefix_space", bool, "true or false", "")
    for kind in SPECIAL_TOKENS:
        _optional(data, f"add_{kind}_token", bool, "true or false", "")
        token = data.get(f"{kind}_token")
        if isinstance(token, dict):
            _optional(token, "content", str, "text", f"{kind}_token.")
        elif token is not None:
            _kind(token, str, "text or an object with its content", f"{kind}_token")
    decoder = _optional(data, "added_tokens_decoder", dict, "an object of id → token", "")
    for token_id, token in (decoder or {}).items():
        where = f"added_tokens_decoder[{token_id[:20]!r}]"
        digits = token_id.isascii() and token_id.isdigit() and len(token_id) <= 7
        if not (digits and int(token_id) < MAX_TOKEN_ID):
            raise _Refusal(where, f"keyed by a token id from 0 to {MAX_TOKEN_ID:,}", token_id)
        _kind(token, dict, "an object", where)
        _kind(token.get("content"), str, "text", f"{where}.content")
        _optional(token, "special", bool, "true or false", f"{where}.")


def check_added_tokens(data: Any) -> None:
    _kind(data, dict, "an object of token → id", "the file")
    for token, token_id in data.items():
        _token_id(token_id, f"[{token[:30]!r}]")


def check_chat_template_json(data: Any) -> None:
    _kind(data, dict, "an object", "the file")
    if data.get("chat_template") is not None:
        _template(data["chat_template"], "chat_template")


CHECKS = {
    "tokenizer.json": check_tokenizer_json,
    "tokenizer_config.json": check_tokenizer_config,
    "added_tokens.json": check_added_tokens,
    "chat_template.json": check_chat_template_json,
}


def check_tokenizer_files(ckpt: Checkpoint) -> None:
    """Every tokenizer file of the checkpoint that something reads, refused naming the field
    (the JSON files through the checkpoint, which keeps them parsed for the converter)."""
    folder = ckpt.path
    for name, check in CHECKS.items():
        data = ckpt.json_file(name)
        if data is None:
            continue
        try:
            check(data)
        except _Refusal as refusal:
            raise CheckpointError(f"“{name}” of “{folder.name}” is damaged: {refusal}.") from None
    templates = [folder / "chat_template.jinja"]
    if (folder / "additional_chat_templates").is_dir():
        templates += sorted((folder / "additional_chat_templates").glob("*.jinja"))
    for path in templates:
        if path.is_file():
            _text_file(path, MAX_TEMPLATE_BYTES, "a chat template")
    if (folder / "merges.txt").is_file():
        _text_file(folder / "merges.txt", MAX_JSON_BYTES, "a list of merges")


def _text_file(path: Path, limit: int, what: str) -> None:
    data = read_regular(path, limit)
    if data is None:
        raise CheckpointError(f"“{path.name}” is far larger than {what} ever is.")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"“{path.name}” is not UTF-8 text, so it is not {what}.") from None
