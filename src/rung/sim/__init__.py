"""Discrete-event simulation of rung studies on benchmarks with known optima.

The simulator drives the very schedulers a server builds from a StudySpec
(`suggest(now)` / `report(...)` only), with a simulated clock instead of a
real one, so many seeds of many methods run in seconds.
"""
