"""What the batch fork server imports before it forks workers: one BLAS thread for each of
them (set before numpy loads; they already share the cores), then the pipeline, so a
worker starts with everything loaded."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pixelnb.batch  # noqa: E402
import pixelnb.pipeline  # noqa: E402, F401
