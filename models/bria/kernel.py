"""The compiled round loop of the hypothesis auction (numba).

:func:`play_rounds` plays rounds of an :class:`~deepmarkets.models.bria.AuctionBRIA` whose
hypotheses are constant, copy-the-best and repeated-game strategy families and whose task is a
bandit, a table of rewards given per round (the SHA-256 lottery, its bits computed in Python) or a
repeated game against a strategy. It follows the Python path (:meth:`AuctionBRIA.decide` and
:meth:`AuctionBRIA.settle`) operation for operation: the same allowances, the same sums (numpy's
pairwise summation), the same bids, the same tie-breaking and reward draws from the same
generators, the same ledger arithmetic, so from one seed both paths
play the same rounds and end with the same floats.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["play_rounds", "pairwise_sum", "BANDIT", "TABLE", "GAME", "RULES", "DONE", "REJECTED_RICH", "WRITE_OFF",
           "LED_BANK", "LED_ROUNDING", "LED_TOTAL", "LED_ALLOWANCE", "LED_OVERESTIMATION", "LED_SCALE", "LED_SIZE"]

# tasks
BANDIT = 0  # option k pays 1 when a uniform draw falls below means[k]
TABLE = 1  # option k pays table[t, k] in the t-th round of the call
GAME = 2  # option k against the opponent's move j pays payoffs[k, j]

# rules that compute a hypothesis's option from the history, by code
COPY_BEST, COOPERATE, DEFECT, TIT_FOR_TAT, GRIM, PAVLOV = range(6)
#: The codes of the repeated-game strategies (the names of ``hypotheses.STRATEGIES``).
RULES = {"cooperate": COOPERATE, "defect": DEFECT, "tit_for_tat": TIT_FOR_TAT, "grim": GRIM, "pavlov": PAVLOV}

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
def _recommend(rule, counts, totals, seen, last_choice, last_reward, last_observation):
    """The option a rule recommends from a history (the Python rules of ``hypotheses``, by code)."""
    if rule == COPY_BEST:  # the best average so far, untried first, ties to the lowest option
        top_mean = -1.0
        choice = 0
        for o in range(len(counts)):
            m = totals[o] / max(counts[o], 1) if counts[o] > 0 else np.inf
            if m > top_mean:
                top_mean, choice = m, o
        return choice
    if rule == COOPERATE:
        return 0
    if rule == DEFECT:
        return 1
    if rule == TIT_FOR_TAT:
        return 0 if last_observation < 0 else last_observation
    if rule == GRIM:
        return 1 if seen[1] > 0 else 0
    if last_choice < 0:  # Pavlov: win-stay, lose-shift
        return 0
    return last_choice if last_reward >= 0.5 else 1 - last_choice


@numba.njit(cache=True)
def play_rounds(task_gen, tie_gen, task, means, table, payoffs, opponent, n0, scales, weights, options, promises,
                parts, wealth, grant, bids, records, wins, counts, totals, seen, last, their_counts, their_totals,
                their_seen, their_last, led, check, snap_rounds, snap_wealth, out_option, out_winner, out_estimate,
                out_reward, out_observation, err):
    """Play ``len(scales)`` rounds from round ``n0`` (``scales[t]`` is c·n^-a of round n0 + t); returns why it stopped.

    Every array is the agent's own and is updated in place; ``out_*[t]`` receive round n0 + t.
    ``parts`` holds (start, stop, rule) rows: hypotheses whose option a rule computes from the
    history each round (copy the best, or a repeated-game strategy). ``last`` is the last round's
    (choice, observation, reward), -1 before the first; in a game the opponent plays the rule
    ``opponent`` on its own history (``their_*``, its last round in ``their_last``). After each
    round listed in ``snap_rounds`` (increasing) the wealth is copied into the next row of
    ``snap_wealth``.
    """
    k = len(wealth)
    best = np.empty(k, dtype=np.int64)
    last_choice, last_observation, last_reward = int(last[0]), int(last[1]), last[2]
    their_choice, their_observation, their_reward = int(their_last[0]), int(their_last[1]), their_last[2]
    snap = 0
    for t in range(len(scales)):
        n = n0 + t
        for r in range(len(parts)):
            choice = _recommend(parts[r, 2], counts, totals, seen, last_choice, last_reward, last_observation)
            for i in range(parts[r, 0], parts[r, 1]):
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
        observation = -1
        if task == BANDIT:
            reward = 1.0 if task_gen.random() < means[option] else 0.0
        elif task == TABLE:
            reward = table[t, option]
        else:  # the opponent moves on its own history, then both record the round
            theirs = _recommend(opponent, their_counts, their_totals, their_seen, their_choice, their_reward,
                                their_observation)
            their_reward = payoffs[theirs, option]
            their_counts[theirs] += 1
            their_totals[theirs] += their_reward
            their_seen[option] += 1
            their_choice, their_observation = theirs, option
            reward = payoffs[option, theirs]
            observation = theirs
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
        if observation >= 0:
            seen[observation] += 1
        last_choice, last_observation, last_reward = option, observation, reward
        out_option[t], out_winner[t], out_estimate[t], out_reward[t] = option, winner, estimate, reward
        out_observation[t] = observation
        if snap < len(snap_rounds) and snap_rounds[snap] == n:
            snap_wealth[snap, :] = wealth
            snap += 1
    return DONE
