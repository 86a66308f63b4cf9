"""kill -9 figures per write path: tries / clean / crashes / hangs / leftovers / orphans / corrupt.

    python benchmarks/kill9.py [--tries N] [--only convert,import,window]

Builds SmolLM2-135M-Instruct as a Hugging Face checkpoint from the starter GGUF (the train
extra is needed), then, in throw-away homes, kills each write path with SIGKILL at each of its
moments N times and starts it again (``benchmarks/kill9_scenarios.py`` says what is judged and
how; the suite runs one try of each).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from benchmarks.checkpoints import build_smollm_checkpoint
    from benchmarks.kill9_scenarios import (
        CONVERT_MOMENTS,
        IMPORT_MOMENTS,
        Tally,
        convert_try,
        import_try,
        window_try,
    )
    from desktop.core.models.starter import starter_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=5, help="tries per moment")
    parser.add_argument("--only", default="convert,import,window")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="huacaya-kill9-") as tmp:
        work = Path(tmp)
        print("building the checkpoint…", file=sys.stderr)
        source = build_smollm_checkpoint(starter_model_path(), work / "smollm2-hf")
        if "convert" in only:
            tally = Tally()
            out = work / "convert"
            out.mkdir()
            for _ in range(args.tries):
                for when in CONVERT_MOMENTS:
                    convert_try(source, out, when, tally)
            print(f"huacaya-convert --outtype q4_k_m: {tally}")
            _problems(tally)
        if "import" in only:
            tally = Tally()
            for _ in range(args.tries):
                for when in IMPORT_MOMENTS:
                    import_try(source, work / "home-import", when, tally)
            print(f"huacaya models import --quant q4_k_m: {tally}")
            _problems(tally)
        if "window" in only:
            tally = Tally()
            for _ in range(args.tries):
                window_try(source, work / "home-window", tally)
            print(f"the window's job process: {tally}")
            _problems(tally)
    return 0


def _problems(tally) -> None:  # type: ignore[no-untyped-def]
    for problem in tally.problems:
        print(f"    {problem}")


if __name__ == "__main__":
    sys.exit(main())
