"""NeighbourhoodClusterer: k chosen from the data, pure clusters, stable labels, edge cases."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from mcae.inference.clustering import NeighbourhoodClusterer, candidate_ks, relabel_by_size


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """OpenMP/BLAS on one thread: the test machine is small and shared."""
    with threadpool_limits(limits=1):
        yield


def blobs(centers: int, n: int = 300, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n, n_features=12, centers=centers, cluster_std=1.0,
                      center_box=(-20, 20), random_state=seed)
    return X, y


def test_finds_six_pure_blobs() -> None:
    X, y = blobs(6)
    model = NeighbourhoodClusterer().fit(X)  # default sizes: k searched in 5..37
    assert model.n_clusters_ == 6
    assert adjusted_rand_score(y, model.labels_) > 0.9
    assert model.cluster_centers_.shape == (6, 12)
    assert set(model.labels_) == set(range(1, 7))
    assert max(model.scores_, key=lambda k: model.scores_[k]) == 6
    assert len(model.scores_) >= 5


def test_k_follows_the_data() -> None:
    ks = {}
    for centers in (3, 10):
        X, y = blobs(centers)
        model = NeighbourhoodClusterer(max_cluster_size=150).fit(X)
        assert adjusted_rand_score(y, model.labels_) > 0.9
        ks[centers] = model.n_clusters_
    assert ks == {3: 3, 10: 10}


def test_candidates_respect_cluster_sizes() -> None:
    ks = candidate_ks(300, min_size=8, max_size=60, max_clusters=256, n_grid=8)
    assert ks[0] == 5 and ks[-1] == 37 and len(ks) <= 8
    assert ks == sorted(ks)
    assert candidate_ks(1000, 8, 60, max_clusters=20, n_grid=8)[-1] == 20
    assert candidate_ks(10, 8, 60, 256, 8) == []


def test_deterministic() -> None:
    X, _ = blobs(7, n=400, seed=3)
    a = NeighbourhoodClusterer().fit(X)
    b = NeighbourhoodClusterer().fit(X.copy())
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.scores_ == b.scores_


def test_labels_sorted_by_size() -> None:
    X, _ = make_blobs([120, 20, 60], n_features=5, cluster_std=0.5, random_state=0)
    labels = NeighbourhoodClusterer(max_cluster_size=200).fit_predict(X)
    sizes = np.bincount(labels)
    assert sizes[0] == 0  # 0 stays reserved for "unlabelled"
    assert list(sizes[1:]) == [120, 60, 20]


def test_relabel_ties_follow_first_index() -> None:
    labels, order = relabel_by_size(np.array([2, 2, 0, 1, 1, 0, 3]))
    # 2, 0 and 1 all have two members; 2 comes first, then 0, then 1; 3 is smallest.
    np.testing.assert_array_equal(labels, [1, 1, 2, 3, 3, 2, 4])
    np.testing.assert_array_equal(order, [2, 0, 1, 3])


@pytest.mark.parametrize("n", [0, 1, 5, 15])
def test_tiny_inputs_make_one_cluster(n: int) -> None:
    X = np.random.default_rng(0).normal(size=(n, 6))
    model = NeighbourhoodClusterer().fit(X)
    assert model.labels_.shape == (n,)
    assert model.n_clusters_ == (1 if n else 0)
    assert (model.labels_ == 1).all()
    assert model.cluster_centers_.shape == (model.n_clusters_, min(16, n, 6))
    assert model.scores_ == {}


def test_identical_rows_make_one_cluster() -> None:
    model = NeighbourhoodClusterer().fit(np.ones((50, 4)))
    assert model.n_clusters_ == 1 and (model.labels_ == 1).all()


def test_nan_and_inf_are_handled() -> None:
    X, y = blobs(4, n=200)
    X = np.column_stack([X, np.full(len(X), np.nan)])  # an all-NaN column
    X[::7, 0] = np.nan
    X[3, 1] = np.inf
    X[5, 2] = -np.inf
    model = NeighbourhoodClusterer(max_cluster_size=100).fit(X)
    assert np.isfinite(model.cluster_centers_).all()
    assert model.n_clusters_ == 4
    assert adjusted_rand_score(y, model.labels_) > 0.9


def test_sklearn_contract() -> None:
    model = NeighbourhoodClusterer(min_cluster_size=5, random_state=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "labels_")
    X, _ = blobs(3, n=90)
    assert copy.fit(X) is copy
    assert copy.n_features_in_ == 12
    np.testing.assert_array_equal(copy.fit_predict(X), copy.labels_)


def test_silhouette_subsample_keeps_large_inputs_fast() -> None:
    X, y = blobs(5, n=3000, seed=2)
    model = NeighbourhoodClusterer(silhouette_sample=500, max_cluster_size=800).fit(X)
    assert model.n_clusters_ == 5
    assert adjusted_rand_score(y, model.labels_) > 0.9


def test_bad_params_raise() -> None:
    with pytest.raises(ValueError, match="min_cluster_size"):
        NeighbourhoodClusterer(min_cluster_size=10, max_cluster_size=5).fit(np.zeros((30, 2)))
    with pytest.raises(ValueError, match="2-D"):
        NeighbourhoodClusterer().fit(np.zeros(30))
