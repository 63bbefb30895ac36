"""Exceptions with messages meant for users: the CLI prints them as one line, the API as JSON."""


class TinctError(Exception):
    """Base of every error tinct reports to a user."""


class ImageError(TinctError):
    """An input that cannot be read as an image (corrupt, truncated, empty, too large, unknown).

    ``kind`` tells the cases apart for code (the HTTP API maps it to a status) without reading
    the message: "not_found", "not_a_file", "permission", "empty", "not_image", "corrupt",
    "truncated", "too_large", "too_small", "memory", "unsupported", or None when not classified.
    """

    def __init__(self, *args: object, kind: str | None = None) -> None:
        super().__init__(*args)
        self.kind = kind


class ModelFileError(TinctError):
    """A model file that is missing, damaged, of another architecture or of another format version."""


class HintError(TinctError):
    """Hints that are malformed or do not fit the image or the model."""
