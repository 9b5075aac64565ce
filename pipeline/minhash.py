"""MinHash signatures and LSH band keys for paragraphs, in numpy, a batch at a time.

Candidates for corpus-wide near-duplicates come from locality-sensitive hashing: two paragraphs
whose sets of word shingles overlap share a band key with a probability that grows steeply with
their Jaccard similarity; only pairs that share a band key are compared with rapidfuzz.

The signature is one-permutation hashing with densification by rotation (Li, Owen and Zhang
2012; Shrivastava and Li 2014): each shingle is hashed once, the hash's top bits pick one of
``bins`` bins, and each bin keeps its smallest value; an empty bin borrows the value of the next
non-empty bin to its right. Each bin of two sets then agrees with probability equal to
their Jaccard similarity, as with ``bins`` independent permutations, at the cost of one hash per
shingle instead of ``bins``: bench/dedup_params.py measures both.

Words are hashed from their bytes, never with Python's ``hash``: signatures are stored across
runs and must not change between processes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]

_MASK64 = (1 << 64) - 1
_P = 0x100000001B3  # the FNV-64 prime: odd, so invertible modulo 2**64
_EMPTY = np.uint32(0xFFFFFFFF)
_ROTATION = 0x9E3779B1  # odd: distinct distances give distinct offsets modulo 2**32


def _mix(x: U64) -> U64:
    """splitmix64's finaliser: every input bit flips about half of the output bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def word_hashes(keys: list[str]) -> tuple[U64, npt.NDArray[np.int64]]:
    """64-bit hashes of the words of ``keys`` (match keys: words separated by one space), and
    for each word the index of its key.

    Vectorized over the UTF-8 bytes of all keys at once: a word's hash mixes its length, its
    first 8 bytes and its last 8 bytes (two words of more than 16 bytes that agree in all three
    collide, which costs MinHash nothing measurable).
    """
    data = np.frombuffer("\x01".join(keys).encode("utf-8"), dtype=np.uint8)
    if data.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    sep = (data == 0x20) | (data == 0x01)
    edge = np.flatnonzero(np.diff(np.concatenate(([True], sep, [True])).astype(np.int8)))
    starts, ends = edge[0::2], edge[1::2]  # words are the runs of non-separators
    padded = np.concatenate((np.zeros(8, np.uint8), data, np.zeros(8, np.uint8)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, 8)  # 8 bytes from each byte
    lengths = ends - starts
    short = lengths < 8
    bits = (8 * np.minimum(lengths, 7)).astype(np.uint64)
    # A word's first 8 bytes (fewer, zero-padded, for a short word) and its last 8 bytes.
    head = windows[starts + 8].copy().view(np.uint64).ravel()
    everything = ~np.uint64(0)
    head &= np.where(short, (np.uint64(1) << bits) - np.uint64(1), everything)
    tail = windows[ends].copy().view(np.uint64).ravel()
    tail &= np.where(short, ~((np.uint64(1) << (np.uint64(64) - bits)) - np.uint64(1)), everything)
    with np.errstate(over="ignore"):
        h = _mix(head ^ lengths.astype(np.uint64))
        h = _mix(h * np.uint64(_P) + tail)
    owner = np.searchsorted(np.flatnonzero(data == 0x01), starts)  # key separators before
    return h, owner.astype(np.int64)


def shingle_hashes(keys: list[str], size: int = 5) -> tuple[U64, npt.NDArray[np.int64]]:
    """Hashes of every run of ``size`` consecutive words of each key (one shingle of all its
    words for a key shorter than that), and for each shingle the index of its key."""
    words, owner = word_hashes(keys)
    n = words.size
    if n == 0:
        return words, owner
    with np.errstate(over="ignore"):
        acc = words.copy()
        for k in range(1, size):
            shifted = np.zeros(n, dtype=np.uint64)
            shifted[: n - k] = words[k:]
            acc = acc * np.uint64(_P) + shifted
        acc = _mix(acc)
    # Word j starts a whole shingle when word j + size - 1 belongs to the same key.
    whole = np.zeros(n, dtype=bool)
    whole[: max(0, n - size + 1)] = owner[: max(0, n - size + 1)] == owner[size - 1 :]
    keep = whole.copy()
    # Keys with fewer words than ``size``: their first word starts one shorter shingle.
    counts = np.bincount(owner, minlength=len(keys))
    short = np.flatnonzero((counts > 0) & (counts < size))
    if short.size:
        first = np.searchsorted(owner, short)
        with np.errstate(over="ignore"):
            for j, count in zip(first, counts[short], strict=True):
                h = np.uint64(0)
                for k in range(count):
                    h = h * np.uint64(_P) + words[j + k]
                acc[j] = _mix(np.array([h], dtype=np.uint64))[0]
        keep[first] = True
    return acc[keep], owner[keep]


def signatures(keys: list[str], bins: int = 128, shingle: int = 5) -> U32:
    """One signature of ``bins`` uint32 values per key (rows in the order of ``keys``)."""
    if bins & (bins - 1) or not 2 <= bins <= 1 << 16:
        raise ValueError("bins must be a power of two between 2 and 65536")
    shingles, owner = shingle_hashes(keys, shingle)
    n = len(keys)
    flat = np.full(n * bins, _EMPTY, dtype=np.uint32)
    if shingles.size:
        shift = np.uint64(64 - (bins.bit_length() - 1))
        bin_no = (shingles >> shift).astype(np.int64)
        value = (shingles & np.uint64(0xFFFFFFFE)).astype(np.uint32)  # never the EMPTY mark
        np.minimum.at(flat, owner * bins + bin_no, value)
    sig = flat.reshape(n, bins)
    _densify(sig)
    return sig


def _densify(sig: U32) -> None:
    """Fill each empty bin with the value of the first non-empty bin to its right (wrapping
    around), plus a constant times the distance: "densification by rotation" (Shrivastava and
    Li 2014), after which two texts agree in a bin with probability J, as in a full bin."""
    n, bins = sig.shape
    empty = sig == _EMPTY
    if not empty.any():
        return
    # For every bin of the row written twice, the index of the next non-empty bin; computed
    # on the transpose, so that the running minimum goes down contiguous rows of all texts.
    doubled = np.concatenate((empty.T, empty.T), axis=0)
    index = np.where(doubled, 2 * bins, np.arange(2 * bins, dtype=np.int32)[:, None])
    nearest = np.minimum.accumulate(index[::-1], axis=0)[::-1][:bins].T
    whole_row_empty = nearest >= 2 * bins
    nearest = np.where(whole_row_empty, 0, nearest)
    distance = (nearest - np.arange(bins)).astype(np.uint32)
    borrowed = sig[np.arange(n)[:, None], nearest % bins] + distance * np.uint32(_ROTATION)
    sig[:] = np.where(empty & ~whole_row_empty, borrowed, sig)


def band_keys(sig: U32, bands: int, rows: int, distance: int = 1) -> U32:
    """Hash each band of ``rows`` signature values, ``distance`` bins apart, into one uint32
    key; the band number goes into the hash, so keys of different bands never meet.

    The distance matters because of densification: an empty bin copies the next non-empty
    one, so neighbouring bins of a short text often hold one shingle twice, and a band of
    neighbours then agrees with probability J instead of J**rows. Bins a few apart draw on
    different shingles once a text has more than a few: long texts get the selective J**rows,
    short ones (few shingles, many empty bins) stay close to J. bench/dedup_params.py
    measures the distances.

    >>> _band_bins(4, 2, 2).tolist()  # the bins of each of 4 bands of 2 rows, 2 apart
    [[0, 2], [1, 3], [4, 6], [5, 7]]
    """
    if bands * rows > sig.shape[1]:
        raise ValueError(
            f"{bands} bands of {rows} rows need {bands * rows} bins, not {sig.shape[1]}"
        )
    n = sig.shape[0]
    cut = sig[:, _band_bins(bands, rows, distance).ravel()].reshape(n, bands, rows)
    cut = cut.astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.broadcast_to(np.arange(bands, dtype=np.uint64), (n, bands)).copy()
        for r in range(rows):
            acc = _mix(acc * np.uint64(_P) + cut[:, :, r])
    return (acc >> np.uint64(32)).astype(np.uint32)


def _band_bins(bands: int, rows: int, distance: int) -> npt.NDArray[np.int64]:
    """The bins of each band: blocks of ``rows * distance`` bins, each holding ``distance``
    bands whose rows are ``distance`` bins apart."""
    if distance < 1 or bands % distance:
        raise ValueError(f"the band distance must divide the number of bands ({bands})")
    b = np.arange(bands)
    first = (b // distance) * rows * distance + b % distance
    return first[:, None] + distance * np.arange(rows)[None, :]
