"""Delivery: the send loop — batching, pacing, retries, the ledger, progress."""
