"""Look-ups of whole arrays at once: int64 keys -> values (`KeyTable`), and runs of ASCII bytes ->
word ids (`AsciiWords`), with no Python object a key, so NumPy drops the GIL through them.

    table = KeyTable(keys, values)          # distinct int64 keys >= 0
    table.get(query)                        # each query key's value, -1 where absent
    words = AsciiWords.of({b"love": 1})     # None if two long words share a fingerprint
    words.ids(b"i love it")                 # an id a run of non-space bytes: 0 unknown, DROP "i"

TfidfFeatures matches its words and n-grams with them; the lexicon prior finds its words with them.
"""

from __future__ import annotations

import numpy as np

from classifier.io.fastwords import END

DROP = -2  # AsciiWords.ids: a one-byte run, no token of TOKEN_PATTERN (2+ characters)
DENSE = 4  # KeyTable: keys below DENSE times their count are an array, not a hash table


class KeyTable:
    """int64 keys (>= 0) -> int values: an open-addressing hash table (linear probing, a quarter to
    a half full) built and looked up for whole arrays at once. A lookup is a hash, a gather and a compare
    a probe, about one probe a key, where a binary search over sorted keys costs ~17 dependent reads.
    Keys that fill most of their range (the unigrams' word ids) are an array indexed by the key."""

    EMPTY = -1
    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * 2^64 / phi

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.size = len(keys)  # keys are distinct
        self.dense = None
        if len(keys) and keys.max() < DENSE * len(keys):  # keys about as many as their range (word ids): an array
            self.dense = np.full(int(keys.max()) + 1, self.EMPTY, np.int64)
            self.dense[keys] = values
            return
        bits = max(4, (2 * len(keys)).bit_length())
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.keys = np.full(1 << bits, self.EMPTY, np.int64)
        self.values = np.zeros(1 << bits, np.int32 if len(keys) < 2**31 else np.int64)
        home, pending, probe = self.home(keys), np.arange(len(keys)), 0
        while len(pending):  # round r: every key not yet placed tries its home + r
            at = (home[pending] + probe) & self.mask
            free = self.keys[at] == self.EMPTY
            at_free, first = np.unique(at[free], return_index=True)  # one key a free slot
            placed = pending[free][first]
            self.keys[at_free], self.values[at_free] = keys[placed], values[placed]
            left = np.ones(len(pending), bool)
            left[np.flatnonzero(free)[first]] = False
            pending, probe = pending[left], probe + 1
        self.probes = probe  # the most a lookup needs

    def home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * self.MULTIPLIER) >> self.shift).astype(np.int64)

    def get(self, query: np.ndarray) -> np.ndarray:
        """The value of each query key, -1 for a key not in the table."""
        if self.dense is not None:
            inside = query < len(self.dense)
            return np.where(inside, self.dense[np.where(inside, query, 0)], self.EMPTY)
        home = self.home(query)
        stored = self.keys[home]  # the first probe, for every key: most end there
        hit = stored == query
        out = np.full(len(query), -1, np.int64)
        out[hit] = self.values[home[hit]]
        todo = np.flatnonzero(~hit & (stored != self.EMPTY))
        for probe in range(1, self.probes):
            if not len(todo):
                break
            at = (home[todo] + probe) & self.mask
            stored = self.keys[at]
            hit = stored == query[todo]
            out[todo[hit]] = self.values[at[hit]]
            todo = todo[~hit & (stored != self.EMPTY)]  # an empty slot ends the search
        return out

    def __len__(self) -> int:
        return self.size


class AsciiWords:
    """Words of ASCII word bytes -> ids, looked up from a text's bytes with no Python object a word:
    each run of non-space bytes is read 8 bytes to a uint64 (an unaligned view of the buffer), a
    run of up to 8 bytes is its own exact key, a longer one is found by a fingerprint of its 8-byte
    chunks and then compared chunk by chunk with the word found, so a match is exact. NumPy drops
    the GIL in all of it, so pieces run in parallel on threads."""

    MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], np.uint64)  # the first k bytes
    PRIME = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, short: KeyTable, chunks: np.ndarray, lengths: np.ndarray, ids: np.ndarray, long: KeyTable):
        self.short, self.chunks, self.lengths, self.long_ids, self.long = short, chunks, lengths, ids, long

    @classmethod
    def of(cls, words: dict[bytes, int]) -> AsciiWords | None:
        """From {word: id >= 1}; None if two long words share a fingerprint (then the dictionary serves)."""
        short = [w for w in words if len(w) <= 8]
        keys = np.array([int.from_bytes(w, "little") for w in short], np.int64)  # ASCII: the top bit is 0
        values = np.array([words[w] for w in short], np.int64)
        long = [(w, i) for w, i in words.items() if len(w) > 8]
        width = max((-(-len(w) // 8) for w, _ in long), default=1)
        chunks = np.array([[int.from_bytes(w[8 * j : 8 * j + 8], "little") for j in range(width)] for w, _ in long],
                          np.uint64).reshape(len(long), width)
        prints = cls.fingerprint(chunks)
        if len(np.unique(prints)) < len(prints):
            return None
        return cls(KeyTable(keys, values), chunks, np.array([len(w) for w, _ in long], np.int64),
                   np.array([i for _, i in long], np.int64), KeyTable(prints, np.arange(len(long))))

    @classmethod
    def fingerprint(cls, chunks: np.ndarray) -> np.ndarray:
        """A non-negative int64 of each row of 8-byte chunks (uint64, zero past the word's end)."""
        h = np.zeros(len(chunks), np.uint64)
        for j in range(chunks.shape[1]):
            h = (h ^ chunks[:, j]) * cls.PRIME
            h ^= h >> np.uint64(29)
        return (h >> np.uint64(1)).astype(np.int64)

    def ids(self, raw: bytes, drop_single: bool = True) -> np.ndarray:
        """The id of each run of non-space bytes of `raw` (word bytes, spaces and separators), in
        order: 0 unknown, END the separator, and with `drop_single` DROP a run of one other byte
        (TOKEN_PATTERN's words have two or more)."""
        width = self.chunks.shape[1]
        chars = np.frombuffer(raw, np.uint8)
        edges = np.flatnonzero(np.diff((chars != 32).view(np.int8), prepend=0, append=0))
        starts, length = edges[::2], edges[1::2] - edges[::2]
        padded = raw + bytes(8 * width + 8)
        at = np.ndarray((len(padded) - 7,), np.uint64, padded, strides=(1,))  # the 8 bytes from each byte on
        first = at[starts] & self.MASKS[np.minimum(length, 8)]
        ids = np.zeros(len(starts), np.int64)
        short = np.flatnonzero(length <= 8)
        found = self.short.get(first[short].astype(np.int64))
        ids[short] = np.maximum(found, 0)
        long = np.flatnonzero((length > 8) & (length <= 8 * width))
        if len(long) and len(self.lengths):
            chunks = np.column_stack([first[long]] + [
                at[starts[long] + 8 * j] & self.MASKS[np.clip(length[long] - 8 * j, 0, 8)] for j in range(1, width)])
            word = self.long.get(self.fingerprint(chunks))
            hit = word >= 0
            word, long, chunks = word[hit], long[hit], chunks[hit]
            same = (self.lengths[word] == length[long]) & (self.chunks[word] == chunks).all(axis=1)
            ids[long[same]] = self.long_ids[word[same]]
        one = length == 1
        ids[one & (first == 0)] = END  # the separator
        if drop_single:
            ids[one & (first != 0)] = DROP
        return ids
