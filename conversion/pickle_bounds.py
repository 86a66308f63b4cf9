"""How long the pickle at the start of some bytes is, after a walk over its opcodes that refuses
one which would take far more memory than its bytes.

The C unpickler sizes its memo table by the largest memo index it is given (a 20-byte pickle
asked for 2 GB that way) and builds whatever objects the opcodes describe. Every opcode makes
at most one object, so counting them bounds the memory a pickle can take (a real ``data.pkl``
takes ~20 per tensor). ``pickletools.genops`` walks the opcodes without building anything, and
refuses a length beyond the data before reading it.
"""

from __future__ import annotations

import io
import pickletools

from conversion.errors import PickleCheckpointError

MAX_PICKLE_OPS = 2_000_000
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def pickle_length(data: bytes, file_name: str) -> int:
    """Where the pickle at the start of ``data`` ends, after a walk over its opcodes that
    refuses one which would take far more memory than its bytes: too many objects, a memo
    index beyond them, a length beyond the data (no object is built during the walk)."""
    ops = 0
    try:
        for opcode, argument, position in pickletools.genops(io.BytesIO(data)):
            ops += 1
            if ops > MAX_PICKLE_OPS:
                raise PickleCheckpointError(
                    f"“{file_name}” describes more than {MAX_PICKLE_OPS:,} objects, far more "
                    "than a state dict holds."
                )
            if opcode.name in _MEMO_PUTS and not (
                isinstance(argument, int) and 0 <= argument < MAX_PICKLE_OPS
            ):
                raise PickleCheckpointError(
                    f"“{file_name}” is damaged or hostile: it stores an object under the memo "
                    f"index {argument!r}."
                )
            if opcode.name == "STOP" and position is not None:  # (a stream tells it)
                return position + 1
    except PickleCheckpointError:
        raise
    except Exception as exc:  # pickletools raises ValueError and friends on damaged data
        raise PickleCheckpointError(
            f"“{file_name}” is damaged or not a PyTorch state dict ({type(exc).__name__}: "
            f"{str(exc)[:200]})."
        ) from exc
    raise PickleCheckpointError(f"“{file_name}” is damaged: its pickle never ends.")
