"""``huacaya-convert``: Hugging Face checkpoint → GGUF (arrives with the conversion work)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print(
        "huacaya-convert: converting checkpoints is not yet available in this version of "
        "Huacaya. Use a ready-made .gguf model meanwhile (huacaya chat --model FILE.gguf).",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
