"""The compiled engine of an economy on a tabular environment (numba).

:func:`run_episodes` plays whole episodes of an :class:`~deepmarkets.models.economies.economy.Economy`
whose agents are conditioned on states and whose environment is a deterministic table (next
state, reward, goal for every state and action). It follows the Python engine
(``Economy(engine="python")``) step for step: the same auction, the same payments in the same
order, the same learning rule and the same random draws from the same generator, so from one
seed both engines play the same episodes. It hands control back to Python for what changes the
population (entry where nobody can bid, births and deaths at the end of an episode) and when a
log buffer is full; the caller does that work and calls again, and the episode goes on where it
stopped.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["run_episodes", "EPISODES_DONE", "NEEDS_ENTRY", "EPISODE_ENDED", "BUFFER_FULL", "DIVERGED", "WHAT", "RULES",
           "BIDS"]

# what the kernel returns
EPISODES_DONE = 0  # every requested episode has been played
NEEDS_ENTRY = 1  # nobody can bid in the current state: fund entrants there, then call again
EPISODE_ENDED = 2  # an episode ended and the population has dynamics: run them, then call again
BUFFER_FULL = 3  # the write-off or sale log is full: drain it, then call again
DIVERGED = 4  # an episode ended with the bank's balance or the money minted no longer finite: stop

#: The auction rules by code.
RULES = {"first": 0, "vickrey": 1, "ccv": 2}
#: The bid rules by code (0: fixed genes; 1: the valuation rule; 2: the profit rule).
BIDS = {"fixed": 0, "adaptive": 1, "profit": 2}
#: What a written-off payment was for, by code (the names of :class:`~deepmarkets.models.economies.auction.Ledger`).
WHAT = ("price", "exploration", "negative reward", "minted", "reward")


# positions in the episode's integer state ``ep`` and float state ``ep_f`` (kept between calls)
EP_SID, EP_OWNER, EP_STEPS, EP_N_CLONES, EP_IN_EPISODE, EP_SUCCESS, EP_N_OWNERS, EP_START, EP_DONE = range(9)
EP_ENTERED, EP_N_WRITE_OFFS, EP_N_SALES = 9, 10, 11
EP_SIZE = 12
EP_REWARD, EP_TOTAL, EP_PRICE = 0, 1, 2
EP_FLOAT_SIZE = 3
# positions in the ledger array ``led``
LED_BANK, LED_MINTED, LED_WRITTEN_OFF, LED_ROUNDING, LED_TOTAL = range(5)
LED_SIZE = 5
# positions in the integer ``ip`` and float ``fp`` parameters
P_RULE, P_ADAPTIVE, P_MAX_STEPS, P_WANTED, P_DYNAMICS, P_N_AGENTS, P_N_ALIVE, P_HISTORY, P_GINI_EVERY = range(9)
P_EPISODE0 = 9
P_INT_SIZE = 10
P_GAMMA, P_EXPLORE, P_ETA, P_TAX = range(4)
P_FLOAT_SIZE = 4

_EPS = float(np.finfo(float).eps)
_BANK = -1


@numba.njit(cache=True)
def _pay(payer, payee, amount, what, wealth, led, wo_payer, wo_amount, wo_what, ep):
    """:meth:`Ledger.pay` (the same arithmetic in the same order); returns what was paid."""
    if amount <= 0:
        return 0.0
    paid = amount
    touched = 0.0
    if payer != _BANK:
        touched += abs(wealth[payer])
    if payee != _BANK:
        touched += abs(wealth[payee])
    led[LED_ROUNDING] += _EPS * (abs(led[LED_BANK]) + 2 * amount + touched)
    if payer != _BANK:
        paid = min(amount, wealth[payer])
        if paid < amount:
            led[LED_WRITTEN_OFF] += amount - paid
            k = ep[EP_N_WRITE_OFFS]
            wo_payer[k], wo_amount[k], wo_what[k] = payer, amount - paid, what
            ep[EP_N_WRITE_OFFS] = k + 1
        wealth[payer] -= paid
    else:
        led[LED_BANK] -= paid
    if payee != _BANK:
        wealth[payee] += paid
    else:
        led[LED_BANK] += paid
    return paid


@numba.njit(cache=True)
def _learn(clones, n, income, price, bid, eta, tax, rule):
    """``Economy._learn``: the valuation rule (1) or the profit rule (2) on the winner's clones."""
    for k in range(n):
        c = clones[k]
        target = bid[c] if rule == 1 else price
        bid[c] = max(bid[c] + eta * (income - tax - target), 0.0)


@numba.njit(cache=True)
def _gini(wealth, alive, n_agents):
    values = np.empty(n_agents)
    m = 0
    for i in range(n_agents):
        if alive[i]:
            values[m] = wealth[i]
            m += 1
    x = np.sort(values[:m])
    total = x.sum()
    if m == 0 or total <= 0:
        return 0.0
    acc = 0.0
    for k in range(m):
        acc += (2 * (k + 1) - m - 1) * x[k]
    return acc / (m * total)


@numba.njit(cache=True)
def run_episodes(gen, nxt, rew, goal, starts, seen, slots, count, action, bid, wealth, alive, age, income, paid,
                 clones, owners, ep, ep_f, led, ip, fp, wo_payer, wo_amount, wo_what, h_agent, h_sid, h_price,
                 out_i, out_f):
    """Play episodes until ``ip[WANTED]`` are done or Python must act; returns why it stopped.

    ``out_i[e] = (start, success, steps, owners, alive)`` and ``out_f[e] = (reward, gini,
    conservation error)`` for the ``e``-th episode of this run (``alive``, ``gini`` and the error
    only without dynamics: with them the caller fills them after the dynamics).
    """
    rule, adaptive, max_steps = ip[P_RULE], ip[P_ADAPTIVE], ip[P_MAX_STEPS]
    gamma, explore, eta, tax = fp[P_GAMMA], fp[P_EXPLORE], fp[P_ETA], fp[P_TAX]
    n_agents = ip[P_N_AGENTS]
    wo_cap, h_cap = len(wo_payer) - 8, len(h_agent)
    capped = np.empty(slots.shape[1])
    while ep[EP_DONE] < ip[P_WANTED]:
        if ep[EP_IN_EPISODE] == 0:  # start an episode
            k = len(starts)
            sid = starts[gen.integers(0, k)] if k > 1 else starts[0]
            ep[EP_SID], ep[EP_START], ep[EP_OWNER] = sid, sid, _BANK
            ep[EP_STEPS] = ep[EP_N_CLONES] = ep[EP_SUCCESS] = 0
            ep[EP_N_OWNERS], ep[EP_ENTERED] = 0, 0
            ep[EP_IN_EPISODE] = 1
            ep_f[EP_REWARD] = ep_f[EP_TOTAL] = 0.0
        has_clones = ep[EP_OWNER] != _BANK  # the owner's clones learn when the world is sold on
        while ep[EP_STEPS] < max_steps:
            if ep[EP_N_WRITE_OFFS] >= wo_cap or (ip[P_HISTORY] and ep[EP_N_SALES] >= h_cap):
                return BUFFER_FULL
            sid = ep[EP_SID]
            seen[sid] = True
            n = count[sid]
            if ep[EP_ENTERED] == 0:
                rich = False
                for k in range(n):
                    if wealth[slots[sid, k]] > 0:
                        rich = True
                        break
                if not rich:
                    return NEEDS_ENTRY
            ep[EP_ENTERED] = 0
            if n == 0:
                break  # nobody can buy the world: the episode ends here
            top = -1.0
            n_top = 0
            for k in range(n):
                i = slots[sid, k]
                c = min(bid[i], wealth[i])
                capped[k] = c
                if c > top:
                    top, n_top = c, 1
                elif c == top:
                    n_top += 1
            best = 0
            if n_top == 1:
                for k in range(n):
                    if capped[k] == top:
                        best = k
                        break
            else:
                pick = gen.integers(0, n_top)
                for k in range(n):
                    if capped[k] == top:
                        if pick == 0:
                            best = k
                            break
                        pick -= 1
            if rule == 0:
                price = top
            elif n == 1:
                price = 0.0
            elif n_top > 1:
                price = top
            else:
                price = -1.0
                for k in range(n):
                    if k != best and capped[k] > price:
                        price = capped[k]
            winner = best
            if explore > 0 and gen.random() < explore:
                winner = gen.integers(0, n)
            what = 1 if winner != best else 0
            i = slots[sid, winner]
            owner = ep[EP_OWNER]
            received = 0.0
            if owner == _BANK:
                paid[i] += _pay(i, _BANK, price, what, wealth, led, wo_payer, wo_amount, wo_what, ep)
            else:
                to_seller = gamma * price
                received = _pay(i, owner, to_seller, what, wealth, led, wo_payer, wo_amount, wo_what, ep)
                paid[i] += received + _pay(i, _BANK, price - to_seller, what, wealth, led, wo_payer, wo_amount,
                                           wo_what, ep)
                if rule == 1 and top > price:
                    extra = gamma * (top - price)
                    led[LED_MINTED] += extra
                    _pay(_BANK, owner, extra, 3, wealth, led, wo_payer, wo_amount, wo_what, ep)
                    received += extra
                income[owner] += received
            if has_clones and adaptive:
                _learn(clones, ep[EP_N_CLONES], ep_f[EP_REWARD] + received, ep_f[EP_PRICE], bid, eta, tax, adaptive)
            ep_f[EP_PRICE] = price
            m = 0
            a = action[i]
            for k in range(n):
                j = slots[sid, k]
                if action[j] == a:
                    clones[m] = j
                    m += 1
            ep[EP_N_CLONES] = m
            if ip[P_HISTORY]:
                s = ep[EP_N_SALES]
                h_agent[s], h_sid[s], h_price[s] = i, sid, price
                ep[EP_N_SALES] = s + 1
            reward = rew[sid, a]
            terminated = goal[sid, a]
            ep[EP_SID] = nxt[sid, a]
            ep[EP_STEPS] += 1
            ep_f[EP_REWARD] = reward
            ep_f[EP_TOTAL] += reward
            if reward > 0:
                income[i] += _pay(_BANK, i, reward, 4, wealth, led, wo_payer, wo_amount, wo_what, ep)
            elif reward < 0:
                income[i] -= _pay(i, _BANK, -reward, 2, wealth, led, wo_payer, wo_amount, wo_what, ep)
            age[i] += 1
            ep[EP_OWNER] = i
            new_owner = True
            for k in range(ep[EP_N_OWNERS]):
                if owners[k] == i:
                    new_owner = False
                    break
            if new_owner:
                owners[ep[EP_N_OWNERS]] = i
                ep[EP_N_OWNERS] += 1
            if tax > 0:  # Ledger.tax on every living agent
                collected = held = 0.0
                for j in range(n_agents):
                    if alive[j]:
                        due = min(wealth[j], tax)
                        wealth[j] -= due
                        collected += due
                        held += wealth[j]
                led[LED_BANK] += collected
                led[LED_ROUNDING] += _EPS * (abs(led[LED_BANK]) + 2 * held + 2 * collected)
            has_clones = True
            if terminated:
                ep[EP_SUCCESS] = 1
                break
        # the episode is over (goal, truncation, or nobody to buy the world)
        if has_clones and adaptive:
            _learn(clones, ep[EP_N_CLONES], ep_f[EP_REWARD], ep_f[EP_PRICE], bid, eta, tax, adaptive)
        e = ep[EP_DONE]
        out_i[e, 0], out_i[e, 1], out_i[e, 2] = ep[EP_START], ep[EP_SUCCESS], ep[EP_STEPS]
        out_i[e, 3] = ep[EP_N_OWNERS]
        out_f[e, 0] = ep_f[EP_TOTAL]
        ep[EP_IN_EPISODE] = 0
        ep[EP_N_CLONES] = 0
        ep[EP_DONE] = e + 1
        if not (np.isfinite(led[LED_BANK]) and np.isfinite(led[LED_MINTED])):
            out_i[e, 4] = ip[P_N_ALIVE]
            out_f[e, 1] = out_f[e, 2] = np.nan
            return DIVERGED
        if ip[P_DYNAMICS]:
            return EPISODE_ENDED
        held = 0.0
        for j in range(n_agents):
            held += wealth[j]
        out_i[e, 4] = ip[P_N_ALIVE]
        out_f[e, 2] = led[LED_BANK] + held - led[LED_TOTAL]
        every = ip[P_GINI_EVERY]
        out_f[e, 1] = _gini(wealth, alive, n_agents) if (ip[P_EPISODE0] + e + 1) % every == 0 else np.nan
    return EPISODES_DONE
