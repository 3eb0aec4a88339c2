"""The compiled round loop of the hypothesis auction (numba).

:func:`play_rounds` plays rounds of an :class:`~deepmarkets.models.bria.AuctionBRIA` whose
hypotheses are constant and copy-the-best families and whose task is a bandit or a table of
rewards given per round (the SHA-256 lottery, its bits computed in Python). It follows the Python
path (:meth:`AuctionBRIA.decide` and :meth:`AuctionBRIA.settle`) operation for operation: the same
allowances, the same sums (numpy's pairwise summation), the same bids, the same tie-breaking and
reward draws from the same generators, the same ledger arithmetic, so from one seed both paths
play the same rounds and end with the same floats.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["play_rounds", "pairwise_sum", "BANDIT", "TABLE", "DONE", "REJECTED_RICH", "WRITE_OFF",
           "LED_BANK", "LED_ROUNDING", "LED_TOTAL", "LED_ALLOWANCE", "LED_OVERESTIMATION", "LED_SCALE", "LED_SIZE"]

# tasks
BANDIT = 0  # option k pays 1 when a uniform draw falls below means[k]
TABLE = 1  # option k pays table[t, k] in the t-th round of the call

# what play_rounds returns
DONE = 0  # every round was played
REJECTED_RICH = 1  # (check) a hypothesis was rejected though it could bid its promise: err = (round, hypothesis)
WRITE_OFF = 2  # a winner could not pay its bid (impossible: a bid is at most the wealth): err = (round, winner)

# the scalars of the agent and its ledger, in the float array ``led``
LED_BANK, LED_ROUNDING, LED_TOTAL, LED_ALLOWANCE, LED_OVERESTIMATION, LED_SCALE = range(6)
LED_SIZE = 6

_EPS = float(np.finfo(float).eps)
_BLOCK = 128  # numpy's pairwise summation block


@numba.njit(cache=True)
def _block(a, lo, n):
    """numpy's sum of ``a[lo:lo + n]`` for n <= 128: eight running sums, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True)
def _half(n):
    n2 = n // 2
    return n2 - n2 % 8


@numba.njit(cache=True)
def pairwise_sum(a):
    """``float(a.sum())`` for a contiguous float64 array, bit for bit: numpy's pairwise summation (blocks of
    128 split in halves that are multiples of 8, left + right), walked with a stack instead of recursion."""
    lo_s = np.empty(64, dtype=np.int64)
    n_s = np.empty(64, dtype=np.int64)
    right = np.zeros(64, dtype=np.bool_)  # the frame's left half is summed, its right half is being summed
    left = np.empty(64)
    top = 0
    lo_s[0], n_s[0], right[0] = 0, len(a), False
    while True:
        if n_s[top] > _BLOCK:  # descend into the left half
            right[top] = False
            lo_s[top + 1], n_s[top + 1] = lo_s[top], _half(n_s[top])
            top += 1
            continue
        ret = _block(a, lo_s[top], n_s[top])
        top -= 1
        while top >= 0:  # hand the sum to the frames above
            if not right[top]:  # the left half is done: sum the right half next
                left[top], right[top] = ret, True
                n2 = _half(n_s[top])
                lo_s[top + 1], n_s[top + 1] = lo_s[top] + n2, n_s[top] - n2
                top += 1
                break
            ret = left[top] + ret
            top -= 1
        if top < 0:
            return ret


@numba.njit(cache=True)
def play_rounds(task_gen, tie_gen, task, means, table, n0, scales, weights, options, promises, copy_parts,
                wealth, grant, bids, records, wins, counts, totals, led, check, out_option, out_winner,
                out_estimate, out_reward, err):
    """Play ``len(scales)`` rounds from round ``n0`` (``scales[t]`` is c·n^-a of round n0 + t); returns why it stopped.

    Every array is the agent's own and is updated in place; ``out_*[t]`` receive round n0 + t.
    ``copy_parts`` holds (start, stop) rows: the copy-the-best hypotheses, who recommend the
    option with the best average so far (untried first, ties to the lowest option).
    """
    k = len(wealth)
    n_options = len(counts)
    best = np.empty(k, dtype=np.int64)
    for t in range(len(scales)):
        n = n0 + t
        if len(copy_parts):
            top_mean = -1.0
            choice = 0
            for o in range(n_options):
                m = totals[o] / max(counts[o], 1) if counts[o] > 0 else np.inf
                if m > top_mean:
                    top_mean, choice = m, o
            for r in range(len(copy_parts)):
                for i in range(copy_parts[r, 0], copy_parts[r, 1]):
                    options[i] = choice
        scale = scales[t]
        led[LED_SCALE] += scale
        for i in range(k):
            grant[i] = weights[i] * scale
            wealth[i] += grant[i]
        total = pairwise_sum(grant)
        led[LED_BANK] -= total
        led[LED_ROUNDING] += _EPS * (2 * abs(led[LED_BANK]) + abs(led[LED_TOTAL]) + k * total)
        led[LED_ALLOWANCE] += total
        top = -np.inf
        n_best = 0
        for i in range(k):
            b = promises[i] if promises[i] < wealth[i] else wealth[i]
            bids[i] = b
            if b > top:
                top = b
                best[0] = i
                n_best = 1
            elif b == top:
                best[n_best] = i
                n_best += 1
        winner = best[0] if n_best == 1 else best[tie_gen.integers(0, n_best)]
        estimate = top
        if check:
            for i in range(k):
                if promises[i] > estimate and wealth[i] >= promises[i]:
                    err[0], err[1] = n, i
                    return REJECTED_RICH
        option = options[winner]
        if task == BANDIT:
            reward = 1.0 if task_gen.random() < means[option] else 0.0
        else:
            reward = table[t, option]
        net = reward - estimate
        if net > 0:
            led[LED_ROUNDING] += _EPS * (abs(led[LED_BANK]) + 2 * net + abs(wealth[winner]))
            led[LED_BANK] -= net
            wealth[winner] += net
        elif net < 0:
            amount = -net
            led[LED_ROUNDING] += _EPS * (abs(led[LED_BANK]) + 2 * amount + abs(wealth[winner]))
            if wealth[winner] < amount:
                err[0], err[1] = n, winner
                return WRITE_OFF
            wealth[winner] -= amount
            led[LED_BANK] += amount
        wins[winner] += 1
        records[winner] += reward - promises[winner]
        led[LED_OVERESTIMATION] += estimate - reward
        counts[option] += 1
        totals[option] += reward
        out_option[t], out_winner[t], out_estimate[t], out_reward[t] = option, winner, estimate, reward
    return DONE
