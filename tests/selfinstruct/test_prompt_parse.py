"""The prompt's layout and the parser, on fixed teacher text."""

from __future__ import annotations

from conversion.selfinstruct.parse import parse_block, parse_reply
from conversion.selfinstruct.prompt import default_prompt_text, encode_prompt, stop_sequences
from conversion.selfinstruct.seeds import Task

EXAMPLES = [
    Task("Name the  capital\nof the country:", "France", "Paris"),
    Task("Give a synonym of happy.", "", "Glad."),
]


def test_prompt_has_stanfords_layout_and_our_text() -> None:
    prompt = encode_prompt("Write {num_tasks} tasks.", EXAMPLES, 20)
    assert prompt == (
        "Write 20 tasks.\n"
        "###\n1. Instruction: Name the capital of the country\n1. Input:\nFrance\n"
        "1. Output:\nParis\n"
        "###\n2. Instruction: Give a synonym of happy.\n2. Input:\n<noinput>\n"
        "2. Output:\nGlad.\n"
        "###\n3. Instruction:"
    )
    assert stop_sequences(20) == ["20. Instruction:"]
    text = default_prompt_text()
    assert "{num_tasks}" in text and "<noinput>" in text
    assert "20 new tasks" in encode_prompt(text, EXAMPLES, 20)


WELL_FORMED = (
    " Explain why the sky is blue.\n4. Input:\n<noinput>\n4. Output:\nRayleigh scattering.\n"
    "###\n"
    "5. Instruction: Summarize the text.\n5. Input:\nA long text\nover two lines.\n"
    "5. Output:\nA summary.\n"
    "###\n"
    "6. Instruction: List three primes.\n6. Input:\n<NoInput>\n6. Output:\n2, 3, 5\n"
    "###\n"
)


def test_well_formed_reply() -> None:
    parsed = parse_reply(WELL_FORMED, 4, hit_length_limit=False)
    assert parsed.tasks == [
        Task("Explain why the sky is blue.", "", "Rayleigh scattering."),
        Task("Summarize the text.", "A long text\nover two lines.", "A summary."),
        Task("List three primes.", "", "2, 3, 5"),
    ]
    assert (parsed.malformed, parsed.truncated) == (0, 0)
    # Ending on the separator means nothing was cut off, even at the length limit.
    assert parse_reply(WELL_FORMED, 4, hit_length_limit=True).tasks == parsed.tasks


def test_truncated_reply_drops_its_last_block_only_at_the_length_limit() -> None:
    cut = WELL_FORMED[: WELL_FORMED.index("2, 3, 5")] + "2, 3"
    at_limit = parse_reply(cut, 4, hit_length_limit=True)
    assert [t.instruction for t in at_limit.tasks] == [
        "Explain why the sky is blue.",
        "Summarize the text.",
    ]
    assert at_limit.truncated == 1
    stopped = parse_reply(cut, 4, hit_length_limit=False)
    assert stopped.tasks[-1] == Task("List three primes.", "", "2, 3")


def test_misnumbered_blocks() -> None:
    # The teacher skips 5 (4, 6, 7): by position the 2nd and 3rd blocks should be 5 and 6.
    skipped = WELL_FORMED.replace("6. ", "7. ").replace("5. ", "6. ")
    strict = parse_reply(skipped, 4, hit_length_limit=False)
    assert [t.instruction for t in strict.tasks] == ["Explain why the sky is blue."]
    assert strict.malformed == 2
    lenient = parse_reply(skipped, 4, hit_length_limit=False, lenient_numbers=True)
    assert len(lenient.tasks) == 3
    # Labels of one block must agree on the number even when lenient.
    mixed = "8. Instruction: Add the numbers.\n8. Input:\n1, 2\n9. Output:\n3"
    assert parse_block(mixed, None) is None
    # "14. Input:" is not the "4. Input:" of block 4.
    assert parse_block("4. Instruction: Do it now please.\n14. Input:\nx\n4. Output:\ny", 4) is None


def test_malformed_blocks() -> None:
    text = (
        " Name two oceans of the world.\n4. Output:\nAtlantic, Pacific.\n4. Input:\n<noinput>\n"
        "###\n5. Instruction: Write a haiku about rain.\n5. Input:\n<noinput>\n"
        "###\nJust some chatter without labels.\n"
        "###\n7. Instruction: Give an antonym of cold.\n7. Input:\n<noinput>\n7. Output:\n\n"
        "###\n8. Instruction: Name a mammal that can fly.\n8. Input:\n\n8. Output:\nThe bat.\n"
    )
    parsed = parse_reply(text, 4, hit_length_limit=False)
    # Out of order, missing output, no labels, empty output: malformed; the last one is fine.
    assert parsed.tasks == [Task("Name a mammal that can fly.", "", "The bat.")]
    assert parsed.malformed == 4


def test_chat_reply_starts_at_its_first_task() -> None:
    chat = "Sure! Here are more tasks:\n\n4. Instruction:" + WELL_FORMED
    parsed = parse_reply(chat, 4, hit_length_limit=False, continuation=False)
    assert len(parsed.tasks) == 3 and parsed.malformed == 0
    # A chat reply that just continues is read like a completion.
    assert parse_reply(WELL_FORMED, 4, False, continuation=False).tasks == parsed.tasks
