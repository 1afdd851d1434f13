"""pointnet-tf2: a TensorFlow 2 / Keras 3 model zoo for 3-D point clouds.

Importing the package registers its Keras objects (layers, models, losses,
metrics, schedules), so a `.keras` file saved from a model of the zoo loads
with `keras.saving.load_model` after a plain `import pointnet_tf2`.
"""

from pointnet_tf2.version import __version__

from pointnet_tf2.models import fold_batch_norm
from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models

# Importing these modules registers every Keras object a saved `.keras` file
# may name (`models` above registers the models and layers).
from pointnet_tf2 import metrics  # noqa: F401, E402
from pointnet_tf2 import losses  # noqa: F401, E402
from pointnet_tf2.training import schedules  # noqa: F401, E402

# After `training`: its `__init__` imports the tasks, whose compile arguments import
# `training.losses`, so the tasks must not be the first of the two to load.
from pointnet_tf2.inference import predict  # noqa: E402
from pointnet_tf2.presets import from_preset  # noqa: E402
from pointnet_tf2.presets import save_to_preset  # noqa: E402

__all__ = ["__version__", "fold_batch_norm", "from_preset", "get_model", "list_models", "predict", "save_to_preset"]
