"""pointnet-tf2: a TensorFlow 2 / Keras 3 model zoo for 3-D point clouds.

Importing the package registers its Keras objects (layers, models, losses,
metrics, schedules), so a `.keras` file saved from a model of the zoo loads
with `keras.saving.load_model` after a plain `import pointnet_tf2`.
"""

__version__ = "0.1.0"

from pointnet_tf2.models import fold_batch_norm  # noqa: E402
from pointnet_tf2.models import get_model  # noqa: E402
from pointnet_tf2.models import list_models  # noqa: E402
from pointnet_tf2.inference import predict  # noqa: E402
from pointnet_tf2.utils.registration import register_keras_objects  # noqa: E402

register_keras_objects()

__all__ = ["__version__", "fold_batch_norm", "get_model", "list_models", "predict"]
