"""Measurements that do not belong in the test suite (speed, memory, parameter effects)."""
