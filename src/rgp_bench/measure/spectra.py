"""Spectra of the graphs a mask makes: a layer's bipartite channel graph and a block mask's node graph.

A layer's graph has its output and input channels as nodes and an edge (o, i) when the mask keeps any weight
between them. Its adjacency [[0, B], [Bᵀ, 0]] (B the C_out × C_in biadjacency) has the eigenvalues ±σᵢ(B) and
zeros, so its trivial eigenvalues are ±σ₁ and the largest non-trivial eigenvalue magnitude μ̂ is σ₂ (Hoang et al.,
ICLR 2023: μ̂(G) = max |μᵢ| over the eigenvalues other than the trivial ±d of a d-regular bipartite graph).

The Ramanujan bound on μ̂: √(d_l − 1) + √(d_r − 1) for a (d_l, d_r)-biregular bipartite graph (Feng & Li 1996; Li &
Solé 1996; 2√(d − 1) when d_l = d_r = d); 2√(k − 1) for a k-regular graph (Lubotzky, Phillips & Sarnak 1988); for an
irregular graph 2√(d_avg − 1) with d_avg the average degree over all its nodes, as Hoang et al. (ICLR 2023, NeurIPS
2023) use it after Hoory (2005). The Ramanujan gap is the bound minus μ̂ (≥ 0: the graph meets the bound).

Wide matrices get their two largest singular values from a Lanczos solver (ARPACK through
`scipy.sparse.linalg.eigsh`) on the Gram matrix of the smaller side, from a fixed start vector, so the result is
deterministic; small ones from a dense SVD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh

# Up to this many rows or columns (the smaller side) a dense SVD is cheap and exact.
DENSE_LIMIT = 128
# Below this density the Gram products use a sparse (CSR) matrix, above it a dense one.
SPARSE_DENSITY = 0.25
_LANCZOS_TOL = 1e-12


def top_singular_values(matrix: np.ndarray, count: int = 2, dense_limit: int = DENSE_LIMIT) -> np.ndarray:
    """The `count` largest singular values of a real matrix, in descending order (zeros past its rank)."""
    a = np.asarray(matrix, dtype=np.float64)
    small = min(a.shape)
    out = np.zeros(count)
    if small == 0 or not a.any():
        return out
    if small <= max(dense_limit, count):
        values = np.linalg.svd(a, compute_uv=False)[:count]
        out[: values.size] = values
        return out
    if a.shape[0] < a.shape[1]:
        a = a.T  # the Gram matrix of the smaller side: aᵀa is small × small
    if np.count_nonzero(a) < SPARSE_DENSITY * a.size:
        op = sparse.csr_matrix(a)
        op_t = op.T.tocsr()
    else:
        op, op_t = a, np.ascontiguousarray(a.T)
    gram = LinearOperator((small, small), matvec=lambda x: op_t @ (op @ x), dtype=np.float64)
    start = np.random.default_rng(0).uniform(0.5, 1.5, small)  # fixed, and never orthogonal to the top vector
    try:
        values = eigsh(gram, k=count, which="LA", v0=start, tol=_LANCZOS_TOL, return_eigenvectors=False)
    except ArpackError:  # e.g. a rank-deficient Gram matrix the iteration cannot extend: exact fallback
        return top_singular_values(a, count, dense_limit=small)
    out[:] = np.sqrt(np.clip(np.sort(values)[::-1], 0.0, None))
    return out


def ramanujan_bound_biregular(left: float, right: float) -> float:
    """√(d_l − 1) + √(d_r − 1): the Ramanujan bound of a (d_l, d_r)-biregular bipartite graph."""
    return math.sqrt(max(left - 1.0, 0.0)) + math.sqrt(max(right - 1.0, 0.0))


def ramanujan_bound_average(average_degree: float) -> float:
    """2√(d_avg − 1): the bound Hoang et al. apply to irregular graphs (2√(k − 1) for a k-regular graph)."""
    return 2.0 * math.sqrt(max(average_degree - 1.0, 0.0))


@dataclass(frozen=True)
class BipartiteSpectrum:
    """Spectral facts of a bipartite graph given by its biadjacency (rows: output channels, columns: inputs)."""

    sigma1: float  # largest singular value of the biadjacency (the trivial eigenvalue pair ±σ₁)
    sigma2: float  # μ̂: the largest non-trivial eigenvalue magnitude
    spectral_gap: float  # σ₁ − σ₂
    degree_out: float  # mean degree of an output channel (inputs it connects to)
    degree_in: float  # mean degree of an input channel
    biregular: bool  # every output channel has one degree and every input channel one degree
    ramanujan_bound: float
    ramanujan_bound_kind: str  # "biregular" or "average_degree"
    ramanujan_gap: float  # bound − σ₂


def bipartite_spectrum(biadjacency: np.ndarray, dense_limit: int = DENSE_LIMIT) -> BipartiteSpectrum:
    """σ₁, σ₂, degrees and the Ramanujan bound and gap of the bipartite graph with this 0/1 biadjacency."""
    b = np.asarray(biadjacency) != 0
    rows, cols = b.shape
    out_degrees, in_degrees = b.sum(1), b.sum(0)
    biregular = bool(rows and cols and out_degrees.min() == out_degrees.max() and in_degrees.min() == in_degrees.max())
    if biregular:
        bound, kind = ramanujan_bound_biregular(float(out_degrees[0]), float(in_degrees[0])), "biregular"
    else:
        bound, kind = ramanujan_bound_average(2.0 * float(b.sum()) / (rows + cols)), "average_degree"
    sigma1, sigma2 = top_singular_values(b, 2, dense_limit)
    return BipartiteSpectrum(sigma1=float(sigma1), sigma2=float(sigma2), spectral_gap=float(sigma1 - sigma2),
                             degree_out=float(out_degrees.mean()), degree_in=float(in_degrees.mean()),
                             biregular=biregular, ramanujan_bound=bound, ramanujan_bound_kind=kind,
                             ramanujan_gap=float(bound - sigma2))


def weighted_spectral_gap(weights: np.ndarray, dense_limit: int = DENSE_LIMIT) -> tuple[float, float, float]:
    """(σ₁, σ₂, σ₁ − σ₂) of a non-negative weighted biadjacency: the weighted spectral gap μ₀(|W|) − μ̂(|W|) of
    Hoang et al. (NeurIPS 2023) for a bipartite graph, whose eigenvalues are ±σᵢ."""
    sigma1, sigma2 = top_singular_values(np.abs(weights), 2, dense_limit)
    return float(sigma1), float(sigma2), float(sigma1 - sigma2)


@dataclass(frozen=True)
class GraphSpectrum:
    """Spectral facts of a simple undirected graph given by its symmetric adjacency."""

    lambda1: float  # the largest adjacency eigenvalue (k for a k-regular graph)
    mu_hat: float  # the largest magnitude of the other eigenvalues (−λ₁ excluded too when the graph is bipartite)
    regular: bool
    average_degree: float
    ramanujan_bound: float  # 2√(k − 1), or 2√(d_avg − 1) when irregular
    ramanujan_gap: float  # bound − μ̂ (≥ 0: Ramanujan)
    two_sided_gap: float  # λ₁ − μ̂, the expansion the Ramanujan bound constrains

    @property
    def ramanujan(self) -> bool:
        """True when μ̂ meets the bound (up to float rounding)."""
        return self.ramanujan_gap >= -1e-9


def graph_spectrum(adjacency: np.ndarray) -> GraphSpectrum:
    """Adjacency spectrum of a graph and its Ramanujan bound and gap (dense: graphs here have few nodes)."""
    a = (np.asarray(adjacency) != 0).astype(np.float64)
    degrees = a.sum(1)
    eigs = np.linalg.eigvalsh(a)  # ascending
    lambda1 = float(eigs[-1])
    rest = eigs[:-1]
    if rest.size and abs(rest[0] + lambda1) <= 1e-9 * max(lambda1, 1.0):  # bipartite: −λ₁ is trivial as well
        rest = rest[1:]
    mu_hat = float(np.abs(rest).max()) if rest.size else 0.0
    regular = bool(degrees.size and degrees.min() == degrees.max())
    average = float(degrees.mean()) if degrees.size else 0.0
    bound = ramanujan_bound_average(average)
    return GraphSpectrum(lambda1=lambda1, mu_hat=mu_hat, regular=regular, average_degree=average,
                         ramanujan_bound=bound, ramanujan_gap=bound - mu_hat, two_sided_gap=lambda1 - mu_hat)
