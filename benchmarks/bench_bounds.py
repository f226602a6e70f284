"""``stability.bound`` and ``sharp_bound`` on a 1000 x 1000 (lambda, eps) grid (target: well under 50 ms)."""

import numpy as np

import stability

from ._timing import best_time


def main():
    lam = np.linspace(0, 1, 1000)[None, :]
    eps = np.linspace(0, 2, 1000)[:, None]
    for name, fn in [("bound", stability.bound), ("sharp_bound", stability.sharp_bound)]:
        t = best_time(lambda fn=fn: fn(lam, eps, 1.0, 1.0))
        print(f"{name:12s} 1000x1000 grid (broadcast): {t * 1e3:7.2f} ms")
    L2, E2 = np.meshgrid(lam.ravel(), eps.ravel())
    t = best_time(lambda: stability.bound(L2, E2))
    print(f"{'bound':12s} 1000x1000 grid (full arrays): {t * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
