"""The model zoo. Importing this package registers every architecture."""

from tinct.models import cic, cnn4, effunet, encdec, levin_model, patchgan, resenc, vgg16gan  # noqa: F401
