"""The orthogonality regulariser PointNet puts on its feature transform."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class OrthogonalRegularizer(keras.regularizers.Regularizer):
    """Pushes each sample's transform matrix towards an orthogonal one.

    For every sample `b` of a batch of transforms `A` (shape `(B, K, K)`, or the
    flattened `(B, K * K)` output of a T-Net's last Dense layer) the penalty is
    the squared Frobenius norm `||A_b A_b^T - I||_F^2`, computed per sample with
    a batched matrix product, so samples of a batch never mix (the public Keras
    example multiplies every sample with every other one). The regulariser
    returns `weight * sum_b ||A_b A_b^T - I||_F^2`.

    Relation to the original TF1 code. Used as an activity regulariser, Keras 3
    divides the returned value by the batch size, so the loss Keras adds is
    `weight * mean_b ||A_b A_b^T - I||_F^2`: the paper's `L_reg` with weight
    `weight`. The original code instead adds
    `0.001 * tf.nn.l2_loss(A A^T - I)`, where `l2_loss` is half the sum of
    squares over the whole batch (not averaged), i.e.
    `0.0005 * sum_b ||A_b A_b^T - I||_F^2`. With a batch of `B` samples the
    two agree when `weight = 0.0005 * B` (0.016 for the original batch of 32):
    `OrthogonalRegularizer.original_scale(batch_size=32)` builds exactly that.

    The penalty is computed and returned in float32, also under a mixed
    precision policy.

    Args:
        weight: Non-negative factor on the per-sample penalty (after Keras'
            division by the batch size). Defaults to the paper's 0.001.

    Raises:
        ValueError: If `weight` is negative or not a finite number.
    """

    def __init__(self, weight=0.001):
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise ValueError(f"OrthogonalRegularizer: weight must be a number, got {weight!r}") from None
        if not weight >= 0.0 or weight == float("inf"):
            raise ValueError(f"OrthogonalRegularizer: weight must be finite and >= 0, got {weight!r}")
        self.weight = weight

    @classmethod
    def original_scale(cls, batch_size=32, l2_weight=0.001):
        """Builds the regulariser that reproduces the original's loss scale.

        Args:
            batch_size: The training batch size (the original's is 32).
            l2_weight: The factor on `tf.nn.l2_loss` in the original (0.001).

        Returns:
            An `OrthogonalRegularizer` with `weight = 0.5 * l2_weight * batch_size`.

        Raises:
            ValueError: If `batch_size` is not a positive integer.
        """
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"OrthogonalRegularizer.original_scale: batch_size must be a positive integer, got {batch_size!r}")
        return cls(weight=0.5 * float(l2_weight) * int(batch_size))

    def per_sample_penalty(self, transforms):
        """Returns `||A_b A_b^T - I||_F^2` for every sample (no weight).

        Args:
            transforms: Tensor of shape `(B, K, K)` or `(B, K * K)`.

        Returns:
            A float32 tensor of shape `(B,)`.

        Raises:
            ValueError: If the tensor is not a batch of square matrices.
        """
        transforms = ops.cast(transforms, "float32")
        shape = tuple(transforms.shape)
        if len(shape) == 2:
            k = int(round((shape[-1] or 0) ** 0.5))
            if shape[-1] is None or k * k != shape[-1]:
                raise ValueError(f"OrthogonalRegularizer: expected (B, K*K) with a square K*K, got shape {shape}")
            transforms = ops.reshape(transforms, (-1, k, k))
        elif len(shape) != 3 or shape[-1] != shape[-2] or shape[-1] is None:
            raise ValueError(f"OrthogonalRegularizer: expected transforms of shape (B, K, K), got shape {shape}")
        k = transforms.shape[-1]
        gram = ops.matmul(transforms, ops.transpose(transforms, (0, 2, 1)))
        residual = gram - ops.eye(k, dtype="float32")
        return ops.sum(ops.square(residual), axis=(1, 2))

    def __call__(self, transforms):
        return self.weight * ops.sum(self.per_sample_penalty(transforms))

    def get_config(self):
        return {"weight": self.weight}
