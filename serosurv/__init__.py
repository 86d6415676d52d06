"""Surveillance of serotonergic co-prescribing from prescription claims."""

__version__ = "0.1.0"
