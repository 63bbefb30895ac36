"""Exceptions with messages meant for users: the CLI prints them as one line, the API as JSON."""


class TinctError(Exception):
    """Base of every error tinct reports to a user."""


class ImageError(TinctError):
    """An input that cannot be read as an image (corrupt, truncated, empty, too large, unknown)."""


class ModelFileError(TinctError):
    """A model file that is missing, damaged, of another architecture or of another format version."""


class HintError(TinctError):
    """Hints that are malformed or do not fit the image or the model."""
