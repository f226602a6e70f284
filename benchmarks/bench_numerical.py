"""Matrix-free gamma_max / rate_exact / alpha for a model with 10,000 parameters (target: < 60 s on 2 cores).

Model: ``ProductStudentT(5000)`` (a Student-t location-scale per coordinate, 2 x 5000 parameters)
fitted to 100 Laplace samples in 5000 dimensions (misspecified); model expectations by Monte Carlo
(100 draws, common random numbers). The matrix-free code (Hessian-vector products, Lanczos, CG)
does not know the model is separable; the check computes the 5000 exact 2x2 curvature blocks
with elementwise autograd Hessians on the same points and compares gamma_max and alpha (the run
fails if either relative error exceeds 1e-8). LOBPCG, CG and the fit are preconditioned by the
empirical Fisher diagonal of the data (per-sample gradients by ``torch.func.vmap``, generic).

Threads: torch runs on 2 threads (the target machine); ``BENCH_THREADS=1`` overrides. On a shared
machine where another process holds a core, 2 OpenMP threads wait on each other at every kernel
and a Hessian-vector product becomes ~10x slower (measured 15 ms on 1 thread vs 180 ms on 2).
"""

import os
import time

import numpy as np
import torch

from stability.numerical.curvature import MatrixFreeCurvature
from stability.numerical.models import ProductStudentT
from stability.numerical.operator import Retraining

DIM, N, N_MC = 5000, 100, 100


def _exact_blocks(problem):
    """(5000, 2, 2) blocks of A and B from per-coordinate autograd Hessians (an independent route)."""
    model, ex = problem.model, problem.expectations
    th = torch.as_tensor(problem.theta_star)
    k = model.data_dim
    with torch.no_grad():
        w = ex.model_weights(model, th)

    def coord(p, x):  # log-density of one coordinate, p = (mu, log s), x: (n,)
        z = (x - p[0]) * torch.exp(-p[1])
        return model._t.log_f(z) - p[1]

    pairs = torch.stack([th[:k], th[k:]], 1)  # (k, 2)
    hess = torch.func.vmap(torch.func.hessian(lambda p, x, wt: (wt * coord(p, x)).sum()), in_dims=(0, 1, None))
    A = -hess(pairs, ex.x_data, ex.w_data)
    B = -hess(pairs, ex.x_model, w)
    return A.numpy(), B.numpy()


def main():
    threads = int(os.environ.get("BENCH_THREADS", "2"))  # the target machine: 2 cores
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    data = rng.laplace(0.0, 1.0, (N, DIM)) * np.linspace(0.5, 2.0, DIM) + np.linspace(-1, 1, DIM)
    t0 = time.perf_counter()
    problem = Retraining(ProductStudentT(DIM, df=5.0), data, n_mc=N_MC, seed=1)
    t_fit = time.perf_counter() - t0
    f = problem.fit
    print(f"d = {problem.model.n_params} parameters, {N} data points, {N_MC} Monte Carlo draws; {threads} thread(s)")
    print(f"theta* fit: {t_fit:6.2f} s  ({f.method}, {f.iterations} iterations, |grad|_inf = {f.grad_norm:.1e})")
    t0 = time.perf_counter()
    mf = MatrixFreeCurvature(problem)
    g = mf.gamma_max()
    t_g = time.perf_counter() - t0
    print(f"matrix-free gamma_max (-> rate_exact): {t_g:6.2f} s  ({g.hvps} Hessian-vector products; {g.message})")
    a = mf.alpha()
    print(f"matrix-free alpha:                     {a.seconds:6.2f} s  ({a.hvps} Hessian-vector products; {a.message})")
    print(f"gamma_max = {g.value:.10g}, alpha = {a.value:.10g}, rate_exact(lambda=1) = {mf.rate_exact(1.0):.10g}")
    A, B = _exact_blocks(problem)
    g_ref = max(float(np.max(np.linalg.eigvals(np.linalg.solve(Ak, Bk)).real)) for Ak, Bk in zip(A, B, strict=True))
    a_ref = float(np.linalg.eigvalsh(A).min())
    print(f"exact (5000 2x2 blocks): gamma_max = {g_ref:.10g}, alpha = {a_ref:.10g}")
    err_g, err_a = abs(g.value - g_ref) / g_ref, abs(a.value - a_ref) / a_ref
    print(f"relative errors: gamma_max {err_g:.1e}, alpha {err_a:.1e}")
    print(f"total for rate_exact (fit + gamma_max): {t_fit + t_g:6.2f} s; with alpha {t_fit + t_g + a.seconds:6.2f} s")
    # LOBPCG stops at residual 1e-6 (relative), so the Ritz values' errors are ~1e-12 / gap; 1e-8 is the
    # accuracy the matrix-free path promises (issue 4), checked here against the independent 2x2 blocks
    if not (g.converged and a.converged and err_g < 1e-8 and err_a < 1e-8):
        raise SystemExit(
            f"matrix-free curvature check failed: converged {g.converged}/{a.converged}, errors {err_g:.1e}/{err_a:.1e}"
        )


if __name__ == "__main__":
    main()
