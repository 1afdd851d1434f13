"""Former home of the raw text tables' reader; the names stay importable from here.

`read_table` and its errors: `pointnet_tf2.data.io.tables`;
`resample_indices`, `to_unit_sphere`: `pointnet_tf2.data.geometry`;
`check_positive_int`, `check_positive_float`: `pointnet_tf2.data.checks`.
"""

from pointnet_tf2.data.checks import check_positive_float  # noqa: F401  (re-exported)
from pointnet_tf2.data.checks import check_positive_int  # noqa: F401  (re-exported)
from pointnet_tf2.data.geometry import resample_indices  # noqa: F401  (re-exported)
from pointnet_tf2.data.geometry import to_unit_sphere  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import DEGENERATE  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import DELIMITERS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import EMPTY  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import MALFORMED  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import NONFINITE  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import TableError  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import read_table  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.tables import read_table_dropping_bad_lines  # noqa: F401  (re-exported)
