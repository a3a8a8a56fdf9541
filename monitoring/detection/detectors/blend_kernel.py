"""The blend detector's numba kernel: the adaptive kernel with a robust warm-up and time-based suppression.

Differences from `adaptive_kernel` (kept unchanged as the `adaptive` detector):

* a prior surprise from the robust z of the point against the median/MAD of the previous day of points
  (what exists of it), scored from the 10th point; alone until the learnt calibration starts, then blended
  with the learnt (histogram) surprise with weight H / (H + n), n the points since: the robust statistics
  speak first, the learnt calibration takes over as history accumulates;
* suppression after a detection lasts a span of time (not of points) and ends early once the series has
  been calm for a few points, so a second anomaly soon after the first is seen.
* one-sided CUSUMs of the baseline residual (a level-shift view with its own histograms), restarted when
  an episode opens;
* a robust view: the prior's robust z calibrated by its own histogram (the series' own exceedances),
  max-ed with the blended surprise (an ensemble with the robust_z baseline);
* optionally (off), echoes of a sub-episode point (no more surprising than it, before calm) are damped.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .adaptive_kernel import _tail_p, _zbin  # the same calibration histogram as `adaptive`
from .adaptive_params import (
    BAND_WIDTH,
    HIST_FROM,
    NP,
    REPEAT_RARE,
    S_CNT,
    S_INC,
    S_LMEAN,
    S_LSLOW,
    S_PREV,
    S_RSUM,
    S_RSUM2,
    S_RTOT,
    S_RUN,
    S_SUPP,
    S_TOT,
    S_TRIG,
    WEEK_OFFSET,
    K,
)
from .blend_params import (
    A_STEP,
    PRIOR_FROM,
    REF_STEP,
    S_CALM,
    S_LSTEP,
    S_SOFT,
    S_SOFT_CALM,
    S_SOFT_UNTIL,
    S_TPREV,
    SOFT_CALM_POINTS,
    STEP_ADJ_MAX,
    STEP_ADJ_MIN,
    STEP_CLIP,
)
from .robust_z import median_mad, sorted_insert, sorted_remove


@numba.njit(cache=True)
def blend_run(
    ts,
    vs,
    P,
    sc,
    hist,
    fscale,
    pscale,
    pcount,
    dprof,
    dseen,
    wprof,
    wseen,
    ring,
    ring2,
    rz_ring,
    chist,
    cusum,
    rz_sorted,
    o_score,
    o_exp,
    o_band,
):  # pragma: no cover - compiled
    warm = int(P[0])
    a_sc = P[1]
    w_short = int(P[2])
    a_long = P[3]
    a_h = P[4]
    thr_int = P[6]
    smax = P[7]
    m0 = P[8]
    gam = P[9]
    a_p = P[10]
    supf = P[11]
    retrig = P[12]
    use_run = P[13] > 0
    alert = P[14]
    a_slow = P[15]
    vmask = int(P[16])  # vmask: views in use (tuning ablations)
    supp_seconds = P[17]
    handover = P[18]
    calm_points = P[19]
    calm_level = P[20]
    prior_per_z = P[21]
    sigma_max = P[23] > 0.0
    step_norm = P[24]
    sample_cap = P[25]
    cusum_k = P[26]
    cusum_clip = P[27]
    rz_view = P[28] > 0.0
    soft_from = P[29]
    rz_w = rz_ring.shape[0]
    nph = dprof.shape[0]
    cnt = int(sc[S_CNT])
    lmean = sc[S_LMEAN]
    prev = sc[S_PREV]
    rsum = sc[S_RSUM]
    rsum2 = sc[S_RSUM2]
    tot = sc[S_TOT]
    inc = sc[S_INC]
    supp_until = sc[S_SUPP]
    calm = sc[S_CALM]
    lstep = sc[S_LSTEP]
    tprev = sc[S_TPREV]
    trig = sc[S_TRIG]
    run = sc[S_RUN]
    rtot = sc[S_RTOT]
    lslow = sc[S_LSLOW]
    soft = sc[S_SOFT]
    soft_calm = sc[S_SOFT_CALM]
    soft_until = sc[S_SOFT_UNTIL]
    feats = np.zeros(K)
    raw = np.zeros(K)
    pred = np.zeros(NP)
    have = np.zeros(NP, np.bool_)
    for i in range(vs.shape[0]):
        x = vs[i]
        t = ts[i]
        if cnt == 0:
            lmean = x
            prev = x
            lslow = x
        t_sec = math.floor(t)
        if cnt > 0 and t_sec > tprev:
            if cnt > 20:
                lstep += A_STEP * min(max(math.log(t_sec - tprev) - lstep, -STEP_CLIP), STEP_CLIP)
            else:
                lstep += (math.log(t_sec - tprev) - lstep) / cnt
        tprev = t_sec
        db = int((t % 86400.0) / 86400.0 * nph)
        wb = int(((t + WEEK_OFFSET) % (7 * 86400.0)) / 86400.0 * nph)
        pred[0] = prev
        have[0] = cnt > 0
        pred[1] = dprof[db]
        have[1] = dseen[db] >= 2
        pred[2] = wprof[wb]
        have[2] = wseen[wb] >= 2
        tiny = 1e-9 * (abs(lmean) + 1e-9)
        inn = -1.0
        base = lmean
        bsc = 1e300
        for j in range(NP):
            if have[j] and pcount[j] > 20:
                e = abs(x - pred[j]) / (pscale[j] + tiny)
                if inn < 0.0 or e < inn:
                    inn = e
                if j > 0 and pscale[j] < bsc:
                    bsc = pscale[j]
                    base = pred[j]
        inn = max(inn, 0.0)
        # The seasonal profile is the baseline only where it predicts better than the long-run mean.
        if not (bsc < fscale[3]):
            base = lmean
            bsc = fscale[3]
        r = x - base
        k_s = cnt % w_short
        n_w = min(cnt + 1, w_short)
        dx = abs(x - prev)
        raw[0] = inn
        raw[1] = (rsum + r - ring[k_s]) / n_w
        raw[2] = (rsum2 + dx - ring2[k_s]) / n_w - pscale[0]
        raw[3] = x - lmean
        if cnt > 0 and x == prev:
            run += 1.0
        else:
            run = 0.0
        raw[4] = run
        raw[5] = x - lslow
        # Robust prior: median/MAD of what exists of the previous day, Laplace-tailed.
        n_rz = min(cnt, rz_w)
        s_prior = 0.0
        z_rz = -1.0  # the robust z (none before PRIOR_FROM points)
        if n_rz >= PRIOR_FROM:
            med, sig_mad, sig_mean = median_mad(rz_sorted, n_rz)
            sig = max(sig_mad, sig_mean) if sigma_max or sig_mad <= 0.0 else sig_mad
            if sig > 0.0:
                # Unusual only if no baseline explains it: the median, or a daily/weekly profile that has
                # seen this time of day on two days (weeks), i.e. twice the points a 30-minute bin holds at
                # the series' own interval (a square daily wave is not a string of outliers; a bin's first
                # points on the first day are not a profile: they would explain away a level shift).
                dev = abs(x - med)
                ppb = max(1.0, 1800.0 / math.exp(lstep)) if cnt > 1 else 1.0
                for j in range(1, NP):
                    if have[j] and (j == 1 and dseen[db] >= 2.0 * ppb or j == 2 and wseen[wb] >= 2.0 * ppb):
                        dev = min(dev, abs(x - pred[j]))
                s_prior = min(prior_per_z * dev / sig, smax)  # never surer than p = 1e-6: bounded weight
                # The robust view's z: on the robust_z baseline's scale, comparable across spiky and smooth
                # series (its histogram, not a Laplace tail, turns it into a surprise).
                z_rz = dev / max(sig_mad, sig_mean)
            elif x != med:
                s_prior = smax  # a day of one repeated value, then another value
                z_rz = 1e9
            else:
                z_rz = 0.0
        # Optional (SAMPLE_CAP, off): a learnt tail is no surer than its sample allows (log10 of the points
        # learnt from, plus the cap) unless the robust prior, valid from a few points, is as sure.
        s_cap = max(math.log10(tot / inc + 1.0) + sample_cap, s_prior)
        s_best = 0.0
        for k in range(K):
            z = raw[k] if k == 0 or k == 4 else abs(raw[k]) / (fscale[k] + tiny)
            feats[k] = z
            if not (vmask >> k) & 1:
                pass
            elif cnt >= warm and (k < 4 or (k == 5 and a_slow > 0.0)):
                s = -math.log10(_tail_p(hist, k, z, tot / inc, m0, gam, 1.0 / inc))
                s = min(s, s_cap)
                s_best = max(s_best, s)
            elif cnt >= warm and k == 4 and use_run and run > 0.0:
                # Stuck-value check: with q the series' own rate of repeating the previous value,
                # P(run of L repeats) = q^L. Only on series whose values practically never repeat:
                # on integer or coarsely rounded metrics repeats say nothing.
                q = (rtot / inc + 1.0) / (tot / inc + 2.0)
                s = -z * math.log10(q) if q < REPEAT_RARE else 0.0
                s_best = max(s_best, s)
        # Level shift: one-sided CUSUMs (up, down) of the residual against the baseline in units of its mean
        # absolute error, each step clipped so that persistence, not one spike's size, builds them up (a
        # spike is the point views' business); calibrated by their own histograms, like the views.
        if cusum_k < math.inf:
            zc = min(max(r / (bsc + tiny), -cusum_clip), cusum_clip)
            cusum[0] = max(0.0, cusum[0] + zc - cusum_k)
            cusum[1] = max(0.0, cusum[1] - zc - cusum_k)
            # A CUSUM's successive values share most of their sum (they decorrelate over ~1/k points), so its
            # histogram holds ~k n independent values: it is trusted after warm / k points, the support the
            # point views have at warm-up.
            if cnt >= warm / cusum_k:
                for c in range(2):
                    s = -math.log10(_tail_p(chist, c, cusum[c], tot / inc, m0, gam, 1.0 / inc))
                    s = min(s, s_cap)
                    s_best = max(s_best, s)
        # Before the learnt calibration starts (warm points) the prior alone scores; then it fades.
        w_prior = 1.0
        if cnt >= warm:
            w_prior = handover / (handover + cnt - warm) if handover > 0.0 else 0.0
        surprise = w_prior * s_prior + (1.0 - w_prior) * s_best
        # Robust view: the prior's robust z, calibrated by the series' own history of robust z this large
        # (its histogram) instead of a Laplace tail: an ensemble with the robust_z baseline in which a series
        # whose own history holds many spikes of this size does not page on the next one.
        if rz_view and cnt >= warm and z_rz >= 0.0:
            s_rz = -math.log10(_tail_p(chist, 2, z_rz, tot / inc, m0, gam, 1.0 / inc))
            surprise = max(surprise, min(s_rz, s_cap))
        s_epi = surprise  # what the episode (suppression) logic compares
        if step_norm > 0.0 and cnt > 1 and surprise > 0.0:
            adj = min(max(math.log10(math.exp(lstep) / REF_STEP), STEP_ADJ_MIN), STEP_ADJ_MAX)
            s_epi = max(surprise + adj, 0.0)
            if step_norm == 1.0:
                surprise = s_epi
        score = min(1.0, surprise / smax)
        e_sc = min(1.0, s_epi / smax)
        if n_rz == rz_w:
            sorted_remove(rz_sorted, n_rz, rz_ring[cnt % rz_w])
            n_rz -= 1
        sorted_insert(rz_sorted, n_rz, x)
        rz_ring[cnt % rz_w] = x
        o_exp[i] = base
        o_band[i] = BAND_WIDTH * bsc if bsc < 1e299 else 0.0
        # learn from this point (after scoring it: causal)
        if cnt >= HIST_FROM:
            if run > 0.0:
                rtot += inc
            for k in range(K):
                if k != 4:
                    hist[k, int(_zbin(feats[k]))] += inc
            if cusum_k < math.inf:
                for c in range(2):
                    chist[c, int(_zbin(cusum[c]))] += inc
            if rz_view and z_rz >= 0.0:
                chist[2, int(_zbin(z_rz))] += inc
            tot += inc
            inc /= 1.0 - a_h
            if inc > 1e100:  # renormalise the growing increment before it overflows
                hist /= inc
                chist /= inc
                tot /= inc
                rtot /= inc
                inc = 1.0
        a = a_sc if cnt > 20 else 1.0 / (cnt + 1)
        for k in range(1, 4):
            fscale[k] += a * (abs(raw[k]) - fscale[k])
        a5 = a_slow if cnt * a_slow > 1.0 else 1.0 / (cnt + 1)
        fscale[5] += a5 * (abs(raw[5]) - fscale[5])
        for j in range(NP):
            if have[j]:
                aj = a_sc if pcount[j] > 20 else 1.0 / (pcount[j] + 1)
                pscale[j] += aj * (abs(x - pred[j]) - pscale[j])
                pcount[j] += 1
        if cnt > 0:
            lmean += a_long * (x - lmean)
            lslow += (a_slow if cnt * a_slow > 1.0 else 1.0 / (cnt + 1)) * (x - lslow)
        if dseen[db] == 0:
            dprof[db] = x
        else:
            dprof[db] += a_p * (x - dprof[db])
        dseen[db] += 1
        if wseen[wb] == 0:
            wprof[wb] = x
        else:
            wprof[wb] += a_p * (x - wprof[wb])
        wseen[wb] += 1
        rsum += r - ring[k_s]
        ring[k_s] = r
        rsum2 += dx - ring2[k_s]
        ring2[k_s] = dx
        prev = x
        # Compared on the capped score: an unbounded surprise (a stuck value growing longer) must
        # not re-trigger on every point.
        # A sub-alert episode must not hide the first alert-level point that follows it.
        # Suppression: an episode damps its echoes for supp_seconds, unless a clearly bigger surprise
        # arrives, or the series has been calm (score under calm_level) for calm_points points since.
        if t < supp_until:
            calm = calm + 1.0 if e_sc < calm_level else 0.0
            if calm >= calm_points:
                supp_until = -1e300
        if t < supp_until and not (e_sc > trig * retrig or (trig < alert <= e_sc)):
            score *= supf
        elif e_sc >= thr_int:
            # In whole seconds, as S_TPREV: the state must not depend on the storage's sub-second precision.
            supp_until = t_sec + supp_seconds
            trig = e_sc
            calm = 0.0
            # An episode is news once: the CUSUMs restart (the standard CUSUM restart after an alarm; without
            # it a shift the baselines adapt to only slowly would keep paging).
            cusum[0] = 0.0
            cusum[1] = 0.0
            soft = 0.0
        elif soft_from < math.inf:
            # Sub-episode echoes: under the episode level, a point no more surprising than the highest since
            # the series was last calm is that point's echo, not news (it would be one more false row at any
            # threshold under the episode level).
            if soft > 0.0 and (t >= soft_until or soft_calm >= SOFT_CALM_POINTS):
                soft = 0.0
            if soft > 0.0 and e_sc <= soft:
                score *= supf
            elif e_sc >= soft_from:
                soft = e_sc
                soft_until = t_sec + supp_seconds
            soft_calm = soft_calm + 1.0 if e_sc < calm_level else 0.0
        o_score[i] = score
        cnt += 1
    sc[S_CNT] = cnt
    sc[S_LMEAN] = lmean
    sc[S_PREV] = prev
    sc[S_RSUM] = rsum
    sc[S_RSUM2] = rsum2
    sc[S_TOT] = tot
    sc[S_INC] = inc
    sc[S_SUPP] = supp_until
    sc[S_CALM] = calm
    sc[S_LSTEP] = lstep
    sc[S_TPREV] = tprev
    sc[S_TRIG] = trig
    sc[S_RUN] = run
    sc[S_RTOT] = rtot
    sc[S_LSLOW] = lslow
    sc[S_SOFT] = soft
    sc[S_SOFT_CALM] = soft_calm
    sc[S_SOFT_UNTIL] = soft_until

