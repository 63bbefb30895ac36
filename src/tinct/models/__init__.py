"""The model zoo. Importing this package registers every architecture."""

from tinct.models import effunet  # noqa: F401
