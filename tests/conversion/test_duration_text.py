"""One way of writing a duration for every progress line and estimate (training, indexing, the
studio's estimates): seconds under a minute, minutes and seconds, hours and minutes; whole
minutes from two minutes on where seconds would be false precision."""

from __future__ import annotations

import pytest

from conversion.progress import duration_text


@pytest.mark.parametrize(
    ("seconds", "precise", "rounded"),
    [
        (-3, "0 s", "0 s"),
        (45, "45 s", "45 s"),
        (95, "1 min 35 s", "95 s"),
        (725, "12 min 05 s", "12 min"),
        (3900, "1 h 05 min", "1 h 05 min"),
    ],
)
def test_durations_read_the_same_everywhere(seconds: float, precise: str, rounded: str) -> None:
    assert duration_text(seconds) == precise
    assert duration_text(seconds, whole_minutes=True) == rounded
