"""pointnet-tf2: a TensorFlow 2 / Keras 3 model zoo for 3-D point clouds.

Importing the package registers its custom layers with Keras, so `.keras`
files saved from its models load with `keras.saving.load_model` after a plain
`import pointnet_tf2`.
"""

__version__ = "0.1.0"

from pointnet_tf2 import layers  # noqa: E402,F401
from pointnet_tf2.models import get_model  # noqa: E402
from pointnet_tf2.models import list_models  # noqa: E402

__all__ = ["__version__", "get_model", "list_models"]
