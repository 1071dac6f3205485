"""On-demand measurements of inquote (not part of the test run). See docs/evaluation.md."""
