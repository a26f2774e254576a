"""``pad_sequence``: a list of variable-length sequences as one padded batch (the part of PyTorch's
``torch.nn.utils.rnn`` that 1D conv code uses).

>>> import nnlite
>>> from nnlite.nn.utils.rnn import pad_sequence
>>> pad_sequence([nnlite.ones(3), nnlite.ones(1)], batch_first=True).tolist()
[[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
"""
from nnlite._tensor import Tensor, cat, full, stack

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes ``(L_i, *)`` into ``(L_max, B, *)`` (``(B, L_max, *)`` with ``batch_first``),
    filling with ``padding_value`` on the ``padding_side`` ('right' or 'left').  Differentiable.

    See PyTorch's ``torch.nn.utils.rnn.pad_sequence``.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0) if hasattr(sequences, "unbind") else list(sequences)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    trailing = sequences[0].shape[1:]
    for s in sequences:
        if s.ndim == 0 or s.shape[1:] != trailing:
            raise RuntimeError(f"The size of tensor a ({list(trailing)}) must match the size of tensor b "
                               f"({list(s.shape[1:])}) at non-singleton dimension 1")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        if extra:
            fill = full((extra,) + tuple(trailing), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)
