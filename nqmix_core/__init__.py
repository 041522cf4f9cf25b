"""nqmix_core: NQMIX (non-monotonic value factorisation) and its baselines, small and readable.

Start at ``nqmix_core.losses`` (every equation of the paper) and ``nqmix_core.learners.nqmix``
(Algorithm 1). ``nqmix_core.registry`` turns names into algorithms and environments.
"""
__version__ = "0.1.0"
