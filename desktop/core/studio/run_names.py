"""What a training run is called wherever a window shows it (the Train step's list and panel,
the Compare and Use steps' run pickers): when it started, “5 Dec 04:14”, read from the name of
its folder (``training.new_run_folder`` names it so, adding “(2)” to a run started in the same
minute as another of the project's: no two runs are called alike)."""

from __future__ import annotations

import time

RUN_STAMP = "%Y-%m-%d %H%M%S"  # a run folder's name: when it started, local time, sortable


def run_label(folder_name: str, now: time.struct_time | None = None) -> str:
    """“5 Dec 04:14” for the folder “2026-12-05 041427” (the year added when it is not this
    year's; a second run started in the same minute keeps its “(2)”). A folder named otherwise
    (by hand, by an older version) is called by its name."""
    stamp, _, rest = folder_name.partition(" (")
    try:
        when = time.strptime(stamp, RUN_STAMP)
    except ValueError:
        return folder_name
    this_year = (now or time.localtime()).tm_year
    shape = "%d %b %H:%M" if when.tm_year == this_year else "%d %b %Y %H:%M"
    return time.strftime(shape, when).lstrip("0") + (f" ({rest}" if rest else "")
