"""The model zoo. Importing this package registers every architecture."""

from tinct.models import (  # noqa: F401
    cic,
    cnn4,
    effunet,
    encdec,
    levin_model,
    lineart,
    patchgan,
    resenc,
    vgg16gan,
)
