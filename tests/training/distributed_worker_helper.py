"""Run by test_distribute.py: one process of a multi-worker run (`train_*.py` flags).

Usage (TF_CONFIG in the environment):

    python distributed_worker_helper.py TASK [train script flags...]

Test hooks, from the environment:

- `DISTRIBUTED_SAMPLES_LOG`: a file to which every training batch this worker
  reads is appended as a JSON line `{"epoch": e, "rows": [dataset rows]}`.
- `DISTRIBUTED_DIE_AT_EPOCH`: when this worker starts training epoch e
  (1-based), it exits at once with status 17, as a crashed process would.
- `DISTRIBUTED_FREEZE_AT_EPOCH`: the same, but the process stops (SIGSTOP)
  without closing its connections, as a host that lost power or network would.

Exits with the train script's status.
"""

import json
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pointnet_tf2.data import sequence as sequence_module  # noqa: E402
from pointnet_tf2.training.cli import main  # noqa: E402

_gather = sequence_module.PointCloudSequence._gather


def _recording_gather(self, slots, positions):
    if self.split == "train" and self.drop_remainder:  # the training sequences only
        die_at = os.environ.get("DISTRIBUTED_DIE_AT_EPOCH")
        if die_at and self.epoch == int(die_at):
            os._exit(17)
        freeze_at = os.environ.get("DISTRIBUTED_FREEZE_AT_EPOCH")
        if freeze_at and self.epoch == int(freeze_at):
            os.kill(os.getpid(), signal.SIGSTOP)
        log = os.environ.get("DISTRIBUTED_SAMPLES_LOG")
        if log:
            with open(log, "a") as f:
                f.write(json.dumps({"epoch": int(self.epoch), "rows": self.rows[positions].tolist()}) + "\n")
    return _gather(self, slots, positions)


sequence_module.PointCloudSequence._gather = _recording_gather

if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
