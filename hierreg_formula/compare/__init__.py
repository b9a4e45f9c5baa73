"""Comparisons built on the public results API: statsmodels MixedLM, pooling."""
