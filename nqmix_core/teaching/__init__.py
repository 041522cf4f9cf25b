"""The notebooks' own code, apart from the library: matrix games and their fits, the exact small problems
behind notebooks 02a and 02b (``theory``), the measurements and pictures of notebooks 03, 04 and 06, the
widgets, Figure 1, and the self-checking exercises of every notebook and the lab.

The library (learners, networks, the loop, ``nqmix train`` and ``nqmix sweep``, the claims) never imports
from here; the commands that serve a class (``nqmix demo``, ``nqmix plot``'s C8 row) may.
"""
