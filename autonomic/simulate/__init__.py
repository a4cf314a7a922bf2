"""Simulation: a blueprint's real managers and policies on the virtual clock, against workload traces.

- :mod:`autonomic.simulate.trace`: trace formats (interarrival, rate) and generators;
- :mod:`autonomic.simulate.runner`: the run (``simulate``, ``run_simulation``, ``write_outputs``);
- :mod:`autonomic.simulate.summary`: utility and statistics of a run;
- :mod:`autonomic.simulate.plots`: load, servers, dimmer and response time over time (PNG, SVG);
- :mod:`autonomic.simulate.cli`: the ``autonomic simulate`` and ``autonomic trace`` commands.

The simulated service is an ordinary entity, :class:`autonomic.entities.swim.SimWebService`.
See docs/simulation.md.
"""
