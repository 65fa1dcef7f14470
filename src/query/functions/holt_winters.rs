//! `holt_winters(agg, N, S)` / `holt_winters_with_fit(agg, N, S)` as 1.x (1.6.7) computes them:
//! the damped Holt-Winters method, its parameters fitted by a Nelder-Mead search started from a
//! small grid of guesses. To give the same floats as 1.x to the bit this follows its behaviour
//! closely: the same constants, the same order of operations, the same evaluation order, and the
//! same side effects of evaluating a candidate (the objective clamps the smoothing parameters of
//! the candidate in place and rotates its seasonal part), and Go's `math.Pow` algorithm.

use super::{as_f64, series_type, unsupported_type_error, FunctionError, Sample};
use crate::model::FieldType;
use crate::query::result::Value;

/// Weight of the first values in the initial level/trend guesses.
const WEIGHT: f64 = 0.5;
/// Convergence bound of the optimiser.
const EPSILON: f64 = 1.0e-4;
/// The grid of starting guesses for alpha, beta, gamma and phi: LOWER, LOWER+STEP, ... < UPPER.
const GUESS_LOWER: f64 = 0.3;
const GUESS_UPPER: f64 = 1.0;
const GUESS_STEP: f64 = 0.4;

/// Nelder-Mead settings: iterations, reflection, contraction, expansion.
const NM_MAX_ITER: usize = 1000;
const NM_REFLECT: f64 = 1.0;
const NM_CONTRACT: f64 = 0.5;
const NM_EXPAND: f64 = 2.0;

/// Bound on the values held (input intervals plus forecast) so that no query can make the
/// server allocate without limit; 1.x has none.
pub const MAX_VALUES: i64 = 1 << 22;
/// Bound on the season length (the Nelder-Mead simplex has (S+7)×(S+6) values).
pub const MAX_SEASON: i64 = 1024;

fn too_many() -> FunctionError {
    FunctionError(format!("holt_winters: more than {MAX_VALUES} values to fit and forecast"))
}

/// The forecast of one series' (aggregated) points. `h`: number of predicted values, `m`:
/// season length (< 2: no seasonality), `interval`: the GROUP BY time interval (ns),
/// `with_fit`: also answer the fitted values over the input's span. Null points are skipped.
/// `stop` is asked between optimiser steps (the fit is CPU-bound for seconds with a long
/// season); when it answers a reason, the forecast stops with that error.
pub fn holt_winters(
    points: &[Sample],
    h: i64,
    m: i64,
    interval: i64,
    with_fit: bool,
    stop: &dyn Fn() -> Option<&'static str>,
) -> Result<Vec<Sample>, FunctionError> {
    let Some(ty) = series_type(points) else { return Ok(Vec::new()) };
    if !matches!(ty, FieldType::Float | FieldType::Integer) {
        // 1.x's text names the wrong function here.
        return Err(unsupported_type_error("elapsed", ty));
    }
    let pts: Vec<(i64, f64)> = points.iter().filter_map(|p| as_f64(&p.value).map(|v| (p.time, v))).collect();
    if h > MAX_VALUES {
        return Err(too_many());
    }
    if m > MAX_SEASON {
        // The optimiser's simplex is quadratic in the season length.
        return Err(FunctionError(format!("holt_winters: season longer than {MAX_SEASON} is not supported")));
    }
    let hw = Hw { m: m.max(0) as usize, seasonal: m >= 2, interval, y: Vec::new(), stop };
    Ok(hw.emit(&pts, h, with_fit)?.into_iter().map(|(t, v)| Sample::new(t, Value::Float(v))).collect())
}

struct Hw<'a> {
    m: usize,
    seasonal: bool,
    interval: i64,
    y: Vec<f64>,
    stop: &'a dyn Fn() -> Option<&'static str>,
}

/// Go's `math.Pow` for the non-negative integral exponents holt_winters needs (repeated squaring
/// of the mantissa, which can round differently from a libm `pow`).
fn go_pow_int(x: f64, y: u64) -> f64 {
    super::math::go_pow(x, y as f64)
}

impl Hw<'_> {
    fn round_time(&self, t: i64) -> i64 {
        let iv = self.interval;
        let rem = t % iv;
        if rem > iv / 2 {
            (t / iv + 1).wrapping_mul(iv)
        } else {
            (t / iv).wrapping_mul(iv)
        }
    }

    fn emit(mut self, pts: &[(i64, f64)], h: i64, with_fit: bool) -> Result<Vec<(i64, f64)>, FunctionError> {
        let l = pts.len();
        if l < 2 || (self.seasonal && l < self.m) || h <= 0 || self.interval <= 0 {
            return Ok(Vec::new());
        }
        let start = self.round_time(pts[0].0);
        let stop = self.round_time(pts[l - 1].0);
        let count = (stop - start) / self.interval;
        if count <= 0 {
            return Ok(Vec::new());
        }
        if count.saturating_add(h) > MAX_VALUES {
            return Err(too_many());
        }
        // Values per interval, NaN for intervals without one; later points of an interval
        // already taken are dropped.
        let mut y = vec![pts[0].1];
        let mut t = start;
        for p in &pts[1..] {
            let rounded = self.round_time(p.0);
            if rounded <= t {
                continue;
            }
            t += self.interval;
            while rounded != t {
                y.push(f64::NAN);
                t += self.interval;
            }
            y.push(p.1);
        }
        self.y = y;
        let m = self.m;

        let mut l0 = 0.0;
        if self.seasonal {
            for i in 0..m {
                if let Some(v) = self.y.get(i).filter(|v| !v.is_nan()) {
                    l0 += (1.0 / m as f64) * v;
                }
            }
        } else {
            l0 += WEIGHT * self.y[0];
        }
        let mut b0 = 0.0;
        if self.seasonal {
            let mut i = 0;
            while i < m && m + i < self.y.len() {
                let (a, b) = (self.y[i], self.y[m + i]);
                if !a.is_nan() && !b.is_nan() {
                    b0 += 1.0 / (m * m) as f64 * (b - a);
                }
                i += 1;
            }
        } else if let Some(y1) = self.y.get(1).filter(|v| !v.is_nan()) {
            b0 = WEIGHT * (y1 - self.y[0]);
        }
        let mut s = Vec::new();
        if self.seasonal {
            for i in 0..m {
                let v = self.y.get(i).copied().unwrap_or(f64::NAN);
                s.push(if v.is_nan() { 0.0 } else { v / l0 });
            }
        }
        let mut params = vec![0.0; 6 + s.len()];
        params[4] = l0;
        params[5] = b0;
        params[6..].copy_from_slice(&s);

        let mut min_sse = f64::INFINITY;
        let mut best: Option<Vec<f64>> = None;
        let mut alpha = GUESS_LOWER;
        while alpha < GUESS_UPPER {
            let mut beta = GUESS_LOWER;
            while beta < GUESS_UPPER {
                let mut gamma = GUESS_LOWER;
                while gamma < GUESS_UPPER {
                    let mut phi = GUESS_LOWER;
                    while phi < GUESS_UPPER {
                        params[0] = alpha;
                        params[1] = beta;
                        params[2] = gamma;
                        params[3] = phi;
                        let (sse, p) = self.optimize(&params, EPSILON, 1.0);
                        if let Some(why) = (self.stop)() {
                            return Err(FunctionError(why.to_string()));
                        }
                        if sse < min_sse || best.is_none() {
                            min_sse = sse;
                            best = Some(p);
                        }
                        phi += GUESS_STEP;
                    }
                    gamma += GUESS_STEP;
                }
                beta += GUESS_STEP;
            }
            alpha += GUESS_STEP;
        }
        let Some(mut best) = best else { return Ok(Vec::new()) };
        let forecast = self.forecast(h as usize, &mut best);
        let mut out = Vec::new();
        if with_fit {
            let start = pts[0].0;
            for (i, v) in forecast.iter().enumerate() {
                if !v.is_nan() {
                    out.push((start.wrapping_add(self.interval.wrapping_mul(i as i64)), *v));
                }
            }
        } else {
            let stop = pts[l - 1].0;
            for (i, v) in forecast[self.y.len()..].iter().enumerate() {
                if !v.is_nan() {
                    out.push((stop.wrapping_add(self.interval.wrapping_mul(i as i64 + 1)), *v));
                }
            }
        }
        Ok(out)
    }

    /// The forecast over the input's span plus `h` values. Clamps the smoothing parameters of
    /// `params` to [0, 1] and leaves its seasonal part rotated, as 1.x does.
    fn forecast(&self, h: usize, params: &mut [f64]) -> Vec<f64> {
        for x in params.iter_mut().take(4) {
            // NaN stays NaN, as in 1.x.
            *x = x.clamp(0.0, 1.0);
        }
        let (alpha, beta, gamma, phi) = (params[0], params[1], params[2], params[3]);
        let mut y_t = self.y[0];
        let mut phi_h = phi;
        let mut l_t = params[4];
        let mut b_t = params[5];
        let (mut m, mut so) = (0usize, 0usize);
        if self.seasonal {
            m = params.len() - 6;
            if m == 1 {
                params[6] = 1.0;
            }
            so = m.saturating_sub(1);
        }
        let n = self.y.len() + h;
        let mut out = vec![0.0; n];
        out[0] = y_t;
        let (mut stm, mut stmh) = (1.0, 1.0);
        for t in 1..n {
            if self.seasonal && m > 0 {
                let hm = t % m;
                stm = params[6 + (t + so - m) % m];
                stmh = params[6 + (t + hm + so - m) % m];
            }
            let l_p = l_t;
            let b_p = b_t;
            let l_new = alpha * (y_t / stm) + (1.0 - alpha) * (l_p + phi * b_p);
            let b_new = beta * (l_new - l_p) + (1.0 - beta) * phi * b_p;
            let s_t = gamma * (y_t / (l_p + phi * b_p)) + (1.0 - gamma) * stm;
            y_t = (l_new + phi_h * b_new) * stmh;
            l_t = l_new;
            b_t = b_new;
            phi_h += go_pow_int(phi, t as u64);
            if self.seasonal && m > 0 {
                params[6 + (t + so) % m] = s_t;
                so += 1;
            }
            out[t] = y_t;
        }
        out
    }

    /// Sum of squared errors of the fit with `params` (which it clamps/rotates, see
    /// [`Hw::forecast`]); a NaN fitted value where there is data gives +Inf.
    fn sse(&self, params: &mut [f64]) -> f64 {
        let mut sse = 0.0;
        let f = self.forecast(0, params);
        for (i, fv) in f.iter().enumerate() {
            let yv = self.y[i];
            if !yv.is_nan() {
                if fv.is_nan() {
                    return f64::INFINITY;
                }
                let d = fv - yv;
                sse += d * d;
            }
        }
        sse
    }

    /// Nelder-Mead minimisation of [`Hw::sse`] from `start`; answers the minimum and its point.
    #[allow(clippy::needless_range_loop)]
    fn optimize(&self, start: &[f64], epsilon: f64, scale: f64) -> (f64, Vec<f64>) {
        let n = start.len();
        let nf = n as f64;
        let mut v: Vec<Vec<f64>> = vec![start.to_vec(); n + 1];
        let mut f = vec![0.0; n + 1];
        let mut vr = vec![0.0; n];
        let mut ve = vec![0.0; n];
        let mut vc = vec![0.0; n];
        let mut vm = vec![0.0; n];
        let sqrt2 = 2.0f64.sqrt();
        let pn = scale * ((nf + 1.0).sqrt() - 1.0 + nf) / (nf * sqrt2);
        let qn = scale * ((nf + 1.0).sqrt() - 1.0) / (nf * sqrt2);
        for i in 1..=n {
            for j in 0..n {
                v[i][j] = if i - 1 == j { pn + start[j] } else { qn + start[j] };
            }
        }
        for j in 0..=n {
            f[j] = self.sse(&mut v[j]);
        }
        for _ in 1..=NM_MAX_ITER {
            if (self.stop)().is_some() {
                // The caller reports the stop; this search's answer is dropped.
                break;
            }
            let (mut vg, mut vs) = (0usize, 0usize);
            for i in 0..=n {
                if f[i] > f[vg] {
                    vg = i;
                }
                if f[i] < f[vs] {
                    vs = i;
                }
            }
            let mut vh = vs;
            for i in 0..=n {
                if f[i] > f[vh] && f[i] < f[vg] {
                    vh = i;
                }
            }
            for i in 0..n {
                let mut cent = 0.0;
                for (mi, row) in v.iter().enumerate() {
                    if mi != vg {
                        cent += row[i];
                    }
                }
                vm[i] = cent / nf;
            }
            for i in 0..n {
                vr[i] = vm[i] + NM_REFLECT * (vm[i] - v[vg][i]);
            }
            let fr = self.sse(&mut vr);
            if fr < f[vh] && fr >= f[vs] {
                v[vg].copy_from_slice(&vr);
                f[vg] = fr;
            }
            if fr < f[vs] {
                for i in 0..n {
                    ve[i] = vm[i] + NM_EXPAND * (vr[i] - vm[i]);
                }
                let fe = self.sse(&mut ve);
                if fe < fr {
                    v[vg].copy_from_slice(&ve);
                    f[vg] = fe;
                } else {
                    v[vg].copy_from_slice(&vr);
                    f[vg] = fr;
                }
            }
            if fr >= f[vh] {
                if fr < f[vg] && fr >= f[vh] {
                    for i in 0..n {
                        vc[i] = vm[i] + NM_CONTRACT * (vr[i] - vm[i]);
                    }
                } else {
                    for i in 0..n {
                        vc[i] = vm[i] - NM_CONTRACT * (vm[i] - v[vg][i]);
                    }
                }
                let fc = self.sse(&mut vc);
                if fc < f[vg] {
                    v[vg].copy_from_slice(&vc);
                    f[vg] = fc;
                } else {
                    // Shrink towards the best vertex; 1.x re-evaluates only two vertices.
                    let best = v[vs].clone();
                    for (row, vrow) in v.iter_mut().enumerate() {
                        if row != vs {
                            for i in 0..n {
                                vrow[i] = best[i] + (vrow[i] - best[i]) / 2.0;
                            }
                        }
                    }
                    f[vg] = self.sse(&mut v[vg]);
                    f[vh] = self.sse(&mut v[vh]);
                }
            }
            let mut fsum = 0.0;
            for x in &f {
                fsum += x;
            }
            let favg = fsum / (n + 1) as f64;
            let mut s = 0.0;
            for x in &f {
                s += go_pow_int(x - favg, 2) / nf;
            }
            s = s.sqrt();
            if s < epsilon {
                break;
            }
        }
        let mut vs = 0;
        for i in 0..=n {
            if f[i] < f[vs] {
                vs = i;
            }
        }
        let params = v[vs].clone();
        let min = self.sse(&mut v[vs]);
        (min, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_pow_matches_squaring() {
        assert_eq!(go_pow_int(0.5, 3), 0.125);
        assert_eq!(go_pow_int(0.0, 3), 0.0);
        assert_eq!(go_pow_int(3.0, 2), 9.0);
        let x = 0.7000000000000001f64;
        assert!((go_pow_int(x, 7) - x.powi(7)).abs() < 1e-15);
    }

    #[test]
    fn too_few_points() {
        let pts = vec![Sample::new(0, Value::Float(1.0))];
        assert!(holt_winters(&pts, 3, 0, 10, false, &|| None).unwrap().is_empty());
    }

    fn series(vals: &[(i64, f64)]) -> Vec<Sample> {
        vals.iter().map(|(t, v)| Sample::new(*t * 1_000_000_000, Value::Float(*v))).collect()
    }

    fn run(pts: &[Sample], h: i64, m: i64, every_s: i64, fit: bool) -> Vec<(i64, f64)> {
        holt_winters(pts, h, m, every_s * 1_000_000_000, fit, &|| None)
            .unwrap()
            .into_iter()
            .map(|s| match s.value {
                Value::Float(f) => (s.time / 1_000_000_000, f),
                _ => panic!("not a float"),
            })
            .collect()
    }

    /// Answers captured from InfluxDB 1.6.7 (`GROUP BY time(1m)` over one point a minute, the
    /// 8th minute missing).
    #[test]
    fn matches_influxdb_1_6_7() {
        let ys = [10.0, 14.0, 8.0, 12.0, 11.0, 15.0, 9.0, f64::NAN, 12.0, 16.0, 10.0, 14.0, 13.0, 17.0];
        let pts: Vec<(i64, f64)> =
            ys.iter().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, v)| (i as i64 * 60, *v)).collect();
        let pts = series(&pts);
        assert_eq!(
            run(&pts, 3, 0, 60, false),
            vec![(840, 22.672565352424087), (900, 37.000816295431136), (960, 72.52545358876068)]
        );
        assert_eq!(
            run(&pts, 4, 4, 60, false),
            vec![(840, 12.015243500935698), (900, 17.198123655234763), (960, 16.21847013532525), (1020, 21.645192555388192)]
        );
        let fit = run(&pts, 2, 3, 60, true);
        assert_eq!(fit.len(), 16);
        assert_eq!(fit[0], (0, 10.0));
        assert_eq!(fit[1], (60, 12.55808829262616));
        assert_eq!(fit[7], (420, 12.430522897730485));
        assert_eq!(fit[15], (900, 15.236691749312921));
        let fit = run(&pts, 2, 0, 60, true);
        assert_eq!(fit[1], (60, 11.790800044689332));
        assert_eq!(fit[13], (780, 16.683958923336384));
        assert_eq!(fit[15], (900, 37.000816295431136));
        // max() per 20s of 12 points 10s apart.
        let pts = series(&[(0, 7.25), (20, 9.5), (40, 4.0), (60, 12.75), (80, 8.0), (100, 11.0)]);
        assert_eq!(
            run(&pts, 3, 2, 20, false),
            vec![(120, 8.786089804624176), (140, 12.905875785016654), (160, 10.176122573779406)]
        );
    }
}
