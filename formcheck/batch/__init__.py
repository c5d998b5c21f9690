"""Many clips at once: ``formcheck batch`` on this computer or a Dask cluster (see ``run``)."""

from formcheck.batch.run import BatchOptions, BatchResult, run_batch

__all__ = ["BatchOptions", "BatchResult", "run_batch"]
