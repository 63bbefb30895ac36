"""The model zoo. Importing this package registers every architecture."""

from tinct.models import (  # noqa: F401
    cic,
    cnn4,
    effunet,
    encdec,
    levin_model,
    patchgan,
    resenc,
    vgg16gan,
)
from tinct.lineart import model as _lineart_models  # noqa: F401,E402  (lineart_unet, lineart_cnn)
