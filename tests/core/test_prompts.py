from __future__ import annotations

import pytest

from conversion.errors import GenerationError
from desktop.core.chat.prompts import AlpacaFormat, JinjaTemplateFormat, choose_format

PREAMBLE = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n"
)


def test_alpaca_multi_turn_repeats_instruction_blocks() -> None:
    rendered = AlpacaFormat().render(
        [
            {"role": "user", "content": "Name a fruit."},
            {"role": "assistant", "content": "Apple."},
            {"role": "user", "content": "Another one."},
        ]
    )
    assert rendered.text == (
        PREAMBLE + "### Instruction:\nName a fruit.\n\n### Response:Apple."
        "\n\n### Instruction:\nAnother one.\n\n### Response:"
    )
    assert rendered.add_special
    assert "### Instruction:" in rendered.stop


def test_alpaca_system_prompt_replaces_the_preamble() -> None:
    rendered = AlpacaFormat().render(
        [
            {"role": "system", "content": "Answer like a pirate."},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert rendered.text == "Answer like a pirate.\n\n### Instruction:\nHi\n\n### Response:"


def test_template_without_system_role_gets_system_folded_into_question() -> None:
    template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
    )
    fmt = JinjaTemplateFormat(template)
    rendered = fmt.render(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert rendered.text == "[user]Be brief.\n\nHi"
    with pytest.raises(GenerationError, match="refused"):
        JinjaTemplateFormat("{{ raise_exception('no') }}").render(
            [{"role": "user", "content": "x"}]
        )


def test_template_runs_in_a_sandbox() -> None:
    fmt = JinjaTemplateFormat("{{ messages.__class__.__mro__ }}")
    with pytest.raises(Exception, match=r"unsafe|not safely|access"):
        fmt.render([{"role": "user", "content": "x"}])


def test_auto_falls_back_to_alpaca_without_or_with_a_broken_template() -> None:
    assert choose_format("auto", None).name == "alpaca"
    assert choose_format("auto", "{% for %}").name == "alpaca"
    assert choose_format("auto", "{{ messages[0]['content'] }}").name == "template"
    assert choose_format("chatml", "{{ x }}").name == "chatml"
    with pytest.raises(GenerationError, match="Unknown prompt format"):
        choose_format("nope", None)


def test_the_chat_template_renders_the_release_prompt_for_one_instruction() -> None:
    from conversion import alpaca

    question = "Give three tips for staying healthy."
    rendered = AlpacaFormat().render([{"role": "user", "content": question}])
    assert rendered.text == alpaca.format_prompt(question)
    assert alpaca.format_prompt(question, "at work").endswith(
        f"### Instruction:\n{question}\n\n### Input:\nat work\n\n### Response:"
    )
