"""Exact small-problem versions of the paper's gradient formulas, for checking them by numbers.

Everything is float64 and built from explicit seeds, so exact results hold to machine precision
and sampled ones are reproducible. Three problems:

1. A random tabular MDP with a softmax policy. J(θ), V^π, Q^π and the discounted visitation d^π are
   solved exactly from linear systems; ∇J comes from autograd through those solves. Against it we
   check the policy-gradient theorem (Eq. 2), the off-policy gradient (Eq. 3) and the sampled
   expectation over (s, t) of Eq. 7 / Appendix A.
2. A one-step game of N agents with Q_tot = f(Q_1(u_1), …, Q_N(u_N)) for a known mixer f, where
   NQMIX's sign-weighted actor step (Eqs. 11–13) is compared with the exact gradient.
3. A linear-quadratic control problem with a linear deterministic policy μ_K(s) = K s, where the
   deterministic policy gradient (Eqs. 9, 10) is compared with the exact ∇J; and a one-step
   deterministic N-agent game for Eq. 14.

Shapes: S states, U actions, N agents, J = U^N joint actions, n samples, H time steps; θ is the
logits table [S, U] (tabular) or a weight matrix [F, U] on state features φ [S, F].
"""
from nqmix_core.teaching.theory.deterministic import *  # noqa: F401,F403
from nqmix_core.teaching.theory.sign_trick import *  # noqa: F401,F403
from nqmix_core.teaching.theory.sign_trick import Mixer  # noqa: F401
from nqmix_core.teaching.theory.tabular import *  # noqa: F401,F403
from nqmix_core.teaching.theory.tabular import DTYPE  # noqa: F401
