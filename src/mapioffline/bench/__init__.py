"""The package's benchmarks, kept apart from the product: ``python -m mapioffline bench`` runs them.

``inprocess`` measures delivery and wake-up inside one process (our sink beside ctypes and Python peers);
``bridge`` measures the cross-process channel. Their results are for reading, not a stable API."""
