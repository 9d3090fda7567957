"""The pure core: search spaces, searchers and schedulers.

No I/O, no wall clock, no global random state: the clock value and the seed are
passed in and every decision is returned as a value, so the server, the
simulator and the in-process tuner drive the very same classes.
"""
