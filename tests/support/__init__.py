"""Test material shared by the tests, benchmarks and tools: paths, clip makers, synthetic runners, truth."""
