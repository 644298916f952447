"""Example data for the measurement command line."""
