"""On-demand measurements of inquote (not part of the test run). See benchmarks/README.md."""
