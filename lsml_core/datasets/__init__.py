"""Readers of the data sets the tracks build on."""
