"""Exact local rate of retraining vs the paper's and the sharp bound, as lambda grows.

(a) Exponential family (Gaussian), well-specified (N(0, 1) data) and misspecified (a bimodal
mixture, eps = W1 > 0). Both give the same curves: for an exponential family L = 0, so the sharp
bound equals the exact rate lambda/(1+lambda) and the paper's bound lambda/(1-lambda) does not see
eps; it guarantees contraction only for lambda < 1/2, while the exact rate is < 1 for every finite
lambda. (b, c) A non-exponential model with L > 0: the Student-t location model (nu = 5, scale 1)
fitted to Gaussian data N(0, s^2), s = 0.5 and 1.5. By symmetry theta* = 0; A = E_data[-d^2 log p]
by quadrature, B = (nu+1)/(nu+3) (Fisher information of a t location), L = sup_u |d/du h(u)| with
h(u) = (nu+1)(u^2 - nu)/(nu+u^2)^2 the theta-Hessian of log p (closed form, attained at
u^2 = nu(3 -+ 2 sqrt 2), checked on a grid; it is a global constant since h depends on x - theta
only), eps = W1(t_5, N(0, s^2)) by quadrature of |F - G|. The exact rate lambda gamma/(1+lambda
gamma), gamma = B/A, is below lambda/(1+lambda) when the data are lighter-tailed than the model
(s = 0.5, gamma < 1) and above it when they are wider (s = 1.5, gamma > 1); the sharp bound
covers it up to lambda = alpha/(2 L eps) and the paper's up to alpha/(2(alpha + L eps)).
"""

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save
from scipy import integrate, stats

import stability
from stability.families import Gaussian, GaussianMixture
from stability.families.wasserstein import w1_cdf_quadrature


class StudentTLocation:
    """Student-t location model with fixed scale 1 and ``nu`` degrees of freedom, for symmetric
    one-dimensional data (a frozen scipy distribution centred at 0, so theta* = 0)."""

    def __init__(self, nu: float = 5.0):
        self.nu = nu

    def hessian(self, u):
        """d^2/dtheta^2 log p_theta(x) at u = x - theta."""
        nu = self.nu
        return (nu + 1) * (u * u - nu) / (nu + u * u) ** 2

    def lipschitz(self) -> float:
        nu = self.nu
        u = np.sqrt(nu * (3 + np.array([-1.0, 1.0]) * 2 * np.sqrt(2)))  # zeros of h''
        L = float(np.max(np.abs(2 * (nu + 1) * u * (3 * nu - u * u) / (nu + u * u) ** 3)))
        grid = np.linspace(-50, 50, 200_001)  # independent check: the grid maximum of |h'|
        h_prime = np.abs(np.gradient(self.hessian(grid), grid))
        assert abs(h_prime.max() - L) < 1e-6 * L, (h_prime.max(), L)  # grid step 5e-4: O(h^2) error
        return L

    def local_constants(self, data) -> stability.LocalConstants:
        theta = 0.0
        score = integrate.quad(lambda x: (self.nu + 1) * x / (self.nu + x * x) * data.pdf(x), -np.inf, np.inf)[0]
        assert abs(score) < 1e-10, score  # symmetric data: E_data[score(0)] = 0, so theta* = 0
        A = -integrate.quad(lambda x: self.hessian(x - theta) * data.pdf(x), -np.inf, np.inf, epsabs=1e-12)[0]
        B = (self.nu + 1) / (self.nu + 3)
        eps, err = w1_cdf_quadrature(stats.t(self.nu, loc=theta).cdf, data.cdf, [theta])
        return stability.LocalConstants(
            model=f"t{self.nu:g}-location",
            theta_star=np.array([theta]),
            A=np.array([[A]]),
            B=np.array([[B]]),
            alpha=A,
            L=self.lipschitz(),
            eps=eps,
            details={"eps": f"quadrature, abs. error estimate {err:.1e}", "A": "quadrature", "B": "closed form"},
        )


def curves(model, data, lambdas):
    """Reports over the lambda grid: the constants are computed once, the rates at each lambda."""
    constants = model.local_constants(data)
    reports = [stability.build_report(constants, lam) for lam in lambdas]
    get = lambda key: np.array([getattr(r, key) for r in reports])  # noqa: E731
    return reports[0], {k: get(k) for k in ("rate_exact", "norm2", "rate_sharp", "rate_paper")}


def panel(ax, lambdas, c, title, ref=None):
    ax.plot(lambdas, c["rate_exact"], color="k", lw=2, label=r"exact $\lambda\gamma_{max}/(1+\lambda\gamma_{max})$")
    ax.plot(lambdas, c["rate_sharp"], color="tab:orange", ls="--", label="sharp bound (Ferbach et al.)")
    ax.plot(lambdas, c["rate_paper"], color="tab:blue", ls="-.", label="paper bound (Thm 1)")
    if ref is not None:
        ax.plot(lambdas, ref, color="0.6", lw=0.8, ls=":", label=r"$\lambda/(1+\lambda)$")
    ax.axhline(1.0, color="tab:red", lw=0.8)
    ax.set_ylim(0, 1.5)
    ax.set_xlim(lambdas[0], lambdas[-1])
    ax.set_xlabel(r"$\lambda$ (synthetic / real)")
    ax.set_title(title, fontsize=8.5)


def main(argv=None):
    args = parse_args(__doc__, argv)
    lambdas = np.linspace(0.0, 3.0, 31 if args.fast else 301)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0), sharey=True)

    _, well = curves(Gaussian(1), stats.norm(0, 1), lambdas)
    mixture = GaussianMixture([0.5, 0.5], [-1.5, 1.5], [0.3, 0.3])
    r_mis, mis = curves(Gaussian(1), mixture, lambdas)
    assert np.allclose(well["rate_exact"], mis["rate_exact"]) and np.allclose(well["rate_paper"], mis["rate_paper"])
    panel(
        axes[0],
        lambdas,
        well,
        "(a) Gaussian fitted to N(0,1) and to a mixture\n("
        + r"$\varepsilon$"
        + f" = {r_mis.eps:.2f}): L = 0, identical curves",
    )

    for ax, s in zip(axes[1:], (0.5, 1.5), strict=True):
        r, c = curves(StudentTLocation(5.0), stats.norm(0, s), lambdas)
        assert np.all(c["rate_exact"] <= c["rate_sharp"] + 1e-12)
        assert np.all(c["rate_sharp"] <= c["rate_paper"] + 1e-12)
        gamma = float(r.gammas[-1])
        lam_sharp = stability.max_lambda(r.eps, r.alpha, r.L, form="sharp")
        lam_paper = stability.max_lambda(r.eps, r.alpha, r.L)
        title = (
            f"(b) t$_5$ location fitted to N(0, {s:g}$^2$): "
            + r"$\gamma$"
            + f" = {gamma:.2f}, "
            + r"$L\varepsilon/\alpha$"
            + f" = {r.L * r.eps / r.alpha:.2f}\n"
            + "contraction guaranteed: sharp for "
            + r"$\lambda$"
            + f" < {lam_sharp:.2f}, paper for "
            + r"$\lambda$"
            + f" < {lam_paper:.2f}"
        )
        if s > 1:
            title = title.replace("(b)", "(c)")
        panel(ax, lambdas, c, title, ref=lambdas / (1 + lambdas))
    axes[0].set_ylabel("local contraction factor")
    axes[-1].legend(loc="lower right", fontsize=7)
    fig.suptitle(
        "Exact local rate of retraining vs Theorem 1 of Bertrand et al. 2024 and its sharp form (docs/theory.md §3-4)",
        y=1.04,
    )
    save(fig, args, "rates")


if __name__ == "__main__":
    main()
