"""A fake `fla` package for testing adapters/fla/run_fla.py without a GPU (tests/fla/README.md).

Only the two entry points the adapter calls, with fla-core 0.6.0's signatures, return values,
assertions and gate convention, computed in float64 by a plain PaTH (adapters/python/path_torch.py)
and rounded to the dtypes FLA returns. FLA_FAKE_BUG=NAME plants a bug (fla.ops.path_attn.parallel).
"""
__version__ = "0.6.0-fake"
