"""Benchmarks: the toolkit against the AWS sample shapes and Postfix's smtp-source.

Run ``python -m benchmarks --quick`` (under two minutes, CI) or ``--full`` (for people); see
benchmarks/README.md for what each scenario measures and the latest full results.
"""
