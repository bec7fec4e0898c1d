"""Rows over a device mesh and over processes."""
