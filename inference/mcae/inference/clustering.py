"""Clusters the masks of one neighbourhood so an expert can label a whole cluster at once.

Features are imputed, standardised and reduced with PCA; the number of clusters is then
chosen from the data: KMeans runs over a geometric grid of candidate k (bounded by the
wanted cluster sizes), the grid's best k is refined by a local search over its integer
neighbours, and the k with the best silhouette score wins.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler


def impute_finite(X: np.ndarray) -> np.ndarray:
    """Replace NaN/inf by the column median of its finite values (0 for all-missing columns)."""
    X = np.array(X, dtype=np.float64, copy=True)
    bad = ~np.isfinite(X)
    if bad.any():
        X[bad] = np.nan
        all_bad = bad.all(axis=0)
        medians = np.zeros(X.shape[1])
        if not all_bad.all():
            medians[~all_bad] = np.nanmedian(X[:, ~all_bad], axis=0)
        rows, cols = np.nonzero(bad)
        X[rows, cols] = medians[cols]
    return X


def candidate_ks(n: int, min_size: int, max_size: int, max_clusters: int, n_grid: int) -> list[int]:
    """Geometric grid of k between ceil(n / max_size) and n // min_size (at least 2)."""
    hi = min(n // min_size, max_clusters)
    lo = min(max(2, math.ceil(n / max_size)), hi)
    if hi < 2:
        return []
    grid = np.geomspace(lo, hi, num=min(n_grid, hi - lo + 1))
    return sorted(set(np.rint(grid).astype(int).tolist()))


def relabel_by_size(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map 0-based labels to 1..k by descending size (ties: lowest first index).

    Returns the new labels and ``order``: ``order[j]`` is the old label that became ``j + 1``.
    """
    old, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = old[np.lexsort((first, -counts))]
    lookup = np.zeros(old.max() + 1, dtype=np.int64)
    lookup[order] = np.arange(1, len(order) + 1)
    return lookup[labels], order


class NeighbourhoodClusterer(BaseEstimator, ClusterMixin):
    """KMeans over imputed, standardised, PCA-reduced mask features with k chosen by silhouette.

    Learned: ``labels_`` (1..k, cluster 1 the largest), ``n_clusters_``, ``cluster_centers_``
    (rows in label order, PCA space), ``scores_`` (k -> silhouette of every k tried),
    ``n_components_`` and ``n_features_in_``. Fewer than ``2 * min_cluster_size`` masks (or
    fewer than two distinct ones) make a single cluster; ``max_clusters`` caps k even if
    clusters then exceed ``max_cluster_size``.
    """

    def __init__(
        self,
        n_components: int = 16,
        min_cluster_size: int = 8,
        max_cluster_size: int = 60,
        max_clusters: int = 256,
        n_candidates: int = 8,
        n_init: int = 4,
        silhouette_sample: int = 2000,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.min_cluster_size = min_cluster_size
        self.max_cluster_size = max_cluster_size
        self.max_clusters = max_clusters
        self.n_candidates = n_candidates
        self.n_init = n_init
        self.silhouette_sample = silhouette_sample
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> NeighbourhoodClusterer:
        """Cluster the rows of ``X`` (masks x features); ``y`` is ignored."""
        self._check_params()
        data = np.asarray(X, dtype=np.float64)
        if data.ndim != 2:
            raise ValueError(f"X must be 2-D (masks x features), got shape {data.shape}")
        n, n_features = data.shape
        self.n_features_in_ = n_features
        self.n_components_ = max(0, min(self.n_components, n, n_features))
        self.scores_: dict[int, float] = {}
        if n == 0:
            self._set_single(0)
            return self
        Z = StandardScaler().fit_transform(impute_finite(data))
        n_distinct = len(np.unique(Z, axis=0))
        if n < 2 * self.min_cluster_size or n_distinct < 2:
            self._set_single(n)
            return self
        Z = PCA(self.n_components_, svd_solver="full").fit_transform(Z)
        ks = candidate_ks(
            n, self.min_cluster_size, self.max_cluster_size,
            min(self.max_clusters, n_distinct), self.n_candidates,
        )
        sample = self._silhouette_rows(n)
        fits: dict[int, KMeans] = {}

        def evaluate(k: int) -> float:
            if k not in fits:
                fits[k] = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(Z)
                self.scores_[k] = _silhouette(Z[sample], fits[k].labels_[sample])
            return self.scores_[k]

        for k in ks:
            evaluate(k)
        best = _best(self.scores_)
        for _ in range(self.n_candidates):  # hill-climb on the integers around the grid's best
            for k in (best - 1, best + 1):
                if ks[0] <= k <= ks[-1]:
                    evaluate(k)
            new_best = _best(self.scores_)
            if new_best == best:
                break
            best = new_best
        labels, order = relabel_by_size(fits[best].labels_)
        self.labels_ = labels
        self.n_clusters_ = len(order)
        self.cluster_centers_ = fits[best].cluster_centers_[order]
        return self

    def _check_params(self) -> None:
        if self.min_cluster_size < 1 or self.max_cluster_size < self.min_cluster_size:
            raise ValueError("need 1 <= min_cluster_size <= max_cluster_size")
        if self.n_components < 1 or self.n_candidates < 1 or self.max_clusters < 2:
            raise ValueError("n_components and n_candidates must be >= 1, max_clusters >= 2")

    def _set_single(self, n: int) -> None:
        """One cluster holding every mask (none if ``n`` is 0); PCA scores are centred."""
        k = 1 if n else 0
        self.labels_ = np.full(n, 1, dtype=np.int64)
        self.n_clusters_ = k
        self.cluster_centers_ = np.zeros((k, self.n_components_))

    def _silhouette_rows(self, n: int) -> np.ndarray:
        """A fixed, sorted subsample of at most ``silhouette_sample`` rows."""
        if n <= self.silhouette_sample:
            return np.arange(n)
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, size=self.silhouette_sample, replace=False))


def _silhouette(Z: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score, -1 where undefined (one label, or one label per row)."""
    n_labels = len(np.unique(labels))
    if not 2 <= n_labels < len(labels):
        return -1.0
    return float(silhouette_score(Z, labels))


def _best(scores: dict[int, float]) -> int:
    """The k with the highest score; ties go to the smallest k."""
    return min(scores, key=lambda k: (-scores[k], k))
