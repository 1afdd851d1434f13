"""Turning exceptions of other libraries into the package's one-line messages."""


def first_line(error, limit=300):
    """The first line of an exception's message, cut to `limit` characters.

    Keras and h5py errors can carry whole weight tensors or tracebacks in their
    message; a user-facing error quotes only this.

    Args:
        error: An exception (or any object).
        limit: Longest text kept.

    Returns:
        `"TypeName: first line"` (the type name alone for an empty message).
    """
    text = str(error).strip().splitlines()
    line = text[0].strip() if text else ""
    if len(line) > limit:
        line = line[: limit - 3] + "..."
    return f"{type(error).__name__}: {line}" if line else type(error).__name__
