import pytest

from pointnet_tf2.migration import apply_post_upgrade_fixes
from pointnet_tf2.migration.post_upgrade import fix_source

UPGRADED = '''import numpy as np
import tensorflow as tf


def dropout(inputs, is_training, keep_prob=0.5, noise_shape=None):
    return tf.cond(is_training,
                   lambda: tf.nn.dropout(inputs, noise_shape, rate=1 - (keep_prob)),
                   lambda: inputs)


def net(point_cloud, K=3):
    batch_size = point_cloud.get_shape()[0].value
    channels = point_cloud.shape[-1].value
    biases = tf.compat.v1.get_variable('biases', [K * K])
    biases += tf.constant(np.eye(K).flatten(), dtype=tf.float32)
    total = tf.zeros([3])
    total += biases[:3]
    tf.summary.scalar('total', total[0])
    tf.compat.v1.summary.histogram('biases', biases)
    return biases, batch_size, channels


if __name__ == "__main__":
    with tf.Graph().as_default():
        print(net(tf.zeros((2, 5, 3))))
'''


def test_each_fix_rewrites_exactly_its_pattern():
    fixed, fixes = fix_source(UPGRADED, "m.py")
    assert [(f.line, f.kind) for f in fixes] == [
        (7, "dropout"), (12, "dimension-value"), (13, "dimension-value"), (15, "variable-iadd"),
        (18, "summary-v1"), (24, "graph-mode")]
    assert "tf.nn.dropout(inputs, rate=1 - (keep_prob), noise_shape=noise_shape)" in fixed
    assert "batch_size = tf.compat.dimension_value(point_cloud.get_shape()[0])" in fixed
    assert "channels = tf.compat.dimension_value(point_cloud.shape[-1])" in fixed
    assert "biases = biases + tf.constant(np.eye(K).flatten(), dtype=tf.float32)" in fixed
    assert "total += biases[:3]" in fixed  # a tensor, not a variable: left alone
    assert "tf.compat.v1.summary.scalar('total', total[0])" in fixed
    assert "tf.compat.v1.summary.histogram('biases', biases)" in fixed
    assert 'if __name__ == "__main__":\n    tf.compat.v1.disable_v2_behavior()\n    with tf.Graph()' in fixed
    compile(fixed, "m.py", "exec")
    assert str(fixes[0]) == ("m.py:7: dropout: tf.nn.dropout(inputs, noise_shape, rate=1 - (keep_prob)) -> "
                             "tf.nn.dropout(inputs, rate=1 - (keep_prob), noise_shape=noise_shape)")


def test_fixes_are_idempotent_and_selectable():
    fixed, _ = fix_source(UPGRADED, "m.py")
    assert fix_source(fixed, "m.py") == (fixed, [])
    only_dropout, fixes = fix_source(UPGRADED, "m.py", kinds=("dropout",))
    assert [f.kind for f in fixes] == ["dropout"]
    assert ".get_shape()[0].value" in only_dropout
    with pytest.raises(ValueError, match="unknown post-upgrade fix 'typo'"):
        fix_source(UPGRADED, kinds=("typo",))


def test_correct_calls_and_non_tensorflow_files_are_left_alone():
    source = ("import tensorflow as tf\n"
              "y = tf.nn.dropout(x, rate=0.3)\n"
              "z = tf.nn.dropout(x, 0.3)\n"
              "n = tf.compat.dimension_value(x.shape[0])\n")
    assert fix_source(source) == (source, [])
    plain = "x = a.get_shape()[0].value\nif __name__ == '__main__':\n    pass\n"
    assert fix_source(plain) == (plain, [])
    with pytest.raises(ValueError, match=r"bad\.py: not valid Python \(line 1\)"):
        fix_source("def (:\n", "bad.py")


def test_apply_to_tree_reports_relative_paths_and_checks_every_file_first(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(UPGRADED)
    (tmp_path / "notes.txt").write_text("tf.nn.dropout(x, noise_shape, rate=1 - (keep_prob))")
    fixes = apply_post_upgrade_fixes(tmp_path)
    assert {f.file for f in fixes} == {"pkg/m.py"} and len(fixes) == 6
    assert "noise_shape=noise_shape" in (tmp_path / "pkg" / "m.py").read_text()
    assert "rate=1 - (keep_prob))" in (tmp_path / "notes.txt").read_text()

    (tmp_path / "pkg" / "m.py").write_text(UPGRADED)
    (tmp_path / "zz_broken.py").write_text("def (:\n")
    with pytest.raises(ValueError, match="zz_broken.py: not valid Python"):
        apply_post_upgrade_fixes(tmp_path)
    assert (tmp_path / "pkg" / "m.py").read_text() == UPGRADED  # nothing written
    with pytest.raises(FileNotFoundError, match="not a folder"):
        apply_post_upgrade_fixes(tmp_path / "missing")
