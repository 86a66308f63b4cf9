"""The helpers that judge model output (tests/scoring.py) judge it as they claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core.chat.engine import ChatEngine
from tests.conftest import COUNT, greedy
from tests.scoring import (
    CAPITAL_OF_FRANCE,
    PARIS_MARGIN,
    Reference,
    Scorer,
    assert_same_answer,
    greedy_reference,
)

# The starter model's first answer token to this question leads by about 0.1 logit: a near-tie.
NEAR_TIE = "What is the capital of France?"


def test_a_near_tie_fails_the_premise_and_a_clear_answer_passes(engine: ChatEngine) -> None:
    with pytest.raises(
        AssertionError, match=r"premise does not hold: margin 0\.\d+ < 1\.0 at token 0"
    ):
        greedy_reference(engine, [{"role": "user", "content": NEAR_TIE}], greedy(8))
    reference = greedy_reference(engine, [{"role": "user", "content": COUNT}], greedy(64))
    assert reference.safe_prefix.strip() == reference.text.strip()  # no near-tie anywhere


def test_scoring_prefers_paris_and_refuses_the_opposite_claim(starter_path: Path) -> None:
    prompt, paris, others = CAPITAL_OF_FRANCE
    with Scorer(starter_path) as scorer:
        preference = scorer.prefers(prompt, paris, others)
        assert preference.margin >= PARIS_MARGIN
        assert scorer.prefers(prompt, " London", [paris]).margin < 0


def test_same_answer_allows_divergence_only_after_the_safe_prefix() -> None:
    reference = Reference(text="1, 2, 3 and then more", safe_prefix="1, 2, 3")
    reference.assert_matches("1, 2, 3 and then more")
    reference.assert_matches("1, 2, 3, or something else")  # after the near-tie: allowed
    reference.assert_matches("1, 2")  # cut short by a token limit
    for wrong in ("1, 2, 4", "", "Paris"):
        with pytest.raises(AssertionError):
            reference.assert_matches(wrong)
    with pytest.raises(AssertionError):
        assert_same_answer("anything", "reference", safe_prefix="not a prefix of the reference")
