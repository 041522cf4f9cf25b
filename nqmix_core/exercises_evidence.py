"""The write-code exercises of notebooks 05 and 06 (the claims table, the exploration and mechanism studies).

Each check takes the student's function and returns None (pass) or a hint; ``nqmix_core.exercises`` gathers
``CHECKS`` and ``REFERENCES`` of every such module, so a notebook calls ``ex.check(name, fn)`` for all of them.
The comparison helpers (``as_result``, ``close``, ``diagnose``) are in ``nqmix_core.exercise_inputs``.
"""
from __future__ import annotations

CHECKS: dict = {}
"""exercise name -> check(fn) returning None or a hint."""
REFERENCES: dict = {}
"""exercise name -> the kit's own implementation, with the exercise's signature."""
