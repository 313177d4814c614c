"""mixture.py - the mixture-component sweep of the reference study (M5, D6).

Gaussian mixtures with k = 1..K full-covariance components are fitted to a
model's codes (scikit-learn's GaussianMixture, random_state 0, so the same
file gives the same report); the number of components is chosen by the
Bayesian information criterion (lowest BIC), and the Akaike criterion is
shown beside it.  For comparison the report also samples from a mixture with
a fixed number of components (5 unless --components says otherwise).

    BIC(k) = -2 log L + p(k) log n,   AIC(k) = -2 log L + 2 p(k),
    p(k) = k - 1 + k b + k b (b + 1) / 2 parameters for codes of size b,

as sklearn computes them (GaussianMixture.bic / .aic on the fitted data).

Many codes (Fashion-MNIST: 20,000) are thinned to at most MAX_POINTS evenly
spaced rows before fitting: the criteria's minimum does not move for such n,
and 10 fits in 64 dimensions stay at seconds.  K is capped at n - 1.

Not for: choosing anything for the training; the mixtures only describe codes.
"""
import numpy as np

MAX_POINTS = 5000


def thin(codes, max_points=MAX_POINTS):
    """At most max_points evenly spaced rows of codes (all of them when there are fewer)."""
    codes = np.asarray(codes, dtype=np.float64)
    if len(codes) <= max_points:
        return codes
    return codes[np.linspace(0, len(codes) - 1, max_points).astype(int)]


class Sweep:
    """Mixtures with 1..kmax components fitted to codes.

    ks, bic, aic: numpy arrays over the fitted k; best_k: lowest BIC; aic_k:
    lowest AIC; models[k]: the fitted GaussianMixture; n: rows fitted."""

    def __init__(self, codes, kmax=10, random_state=0, max_points=MAX_POINTS):
        from sklearn.mixture import GaussianMixture
        x = thin(codes, max_points)
        self.n = len(x)
        if self.n < 2:
            raise ValueError("%d codes: need at least 2 to fit a mixture" % self.n)
        kmax = max(1, min(int(kmax), self.n - 1))
        self.models = {}
        bic, aic = [], []
        for k in range(1, kmax + 1):
            gm = GaussianMixture(n_components=k, covariance_type="full", random_state=random_state).fit(x)
            self.models[k] = gm
            bic.append(gm.bic(x))
            aic.append(gm.aic(x))
        self.ks = np.arange(1, kmax + 1)
        self.bic = np.array(bic)
        self.aic = np.array(aic)
        self.best_k = int(self.ks[int(np.argmin(self.bic))])
        self.aic_k = int(self.ks[int(np.argmin(self.aic))])
        self.x = x
        self.random_state = random_state

    @property
    def best(self):
        return self.models[self.best_k]

    def fixed(self, k):
        """The mixture with k components (fitted here if k is beyond the sweep)."""
        if k not in self.models:
            from sklearn.mixture import GaussianMixture
            k = max(1, min(int(k), self.n - 1))
            if k not in self.models:
                self.models[k] = GaussianMixture(n_components=k, covariance_type="full",
                                                 random_state=self.random_state).fit(self.x)
        return self.models[k]

    def rows(self):
        """Table rows: k, BIC, AIC, and which criterion picks it."""
        return [[int(k), float(b), float(a),
                 ", ".join(n for n, kk in (("BIC", self.best_k), ("AIC", self.aic_k)) if kk == k) or "-"]
                for k, b, a in zip(self.ks, self.bic, self.aic)]


def plot_criteria(ax, sw, title=None):
    """BIC and AIC against k, the chosen k marked."""
    ax.plot(sw.ks, sw.bic, "o-", color="C0", label="BIC")
    ax.plot(sw.ks, sw.aic, "s--", color="C1", label="AIC")
    ax.axvline(sw.best_k, color="C0", lw=0.8, alpha=0.6)
    ax.plot([sw.best_k], [sw.bic[sw.best_k - 1]], "*", color="red", ms=12, label="chosen (BIC): k=%d" % sw.best_k)
    ax.set_xlabel("mixture components k")
    ax.set_ylabel("criterion (lower is better)")
    ax.set_xticks(sw.ks)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
