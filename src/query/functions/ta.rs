//! Technical-analysis transformations of 1.x (1.6.7): exponential_moving_average,
//! double_exponential_moving_average, triple_exponential_moving_average,
//! triple_exponential_derivative, relative_strength_index, kaufmans_efficiency_ratio,
//! kaufmans_adaptive_moving_average and chande_momentum_oscillator.
//!
//! Each walks the series' points in stream order and emits one float per point once more than
//! `hold` points were seen (`hold` defaults to the indicator's warm-up count). Values are
//! computed in the same order of float operations as 1.x so results agree to the bit.
//! Null points are skipped.

use super::{as_f64, series_type, unsupported_type_error, FunctionError, Sample};
use crate::model::FieldType;
use crate::query::result::Value;

/// Which indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaKind {
    Ema,
    Dema,
    Tema,
    Trix,
    Rsi,
    Ker,
    Kama,
    Cmo,
}

/// How exponential averages behave before they have seen `period` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warmup {
    /// The average so far is weighted with 2/(count+1) (1.x's default).
    Exponential,
    /// The plain mean of the values so far.
    Simple,
    /// chande_momentum_oscillator only: the window of differences, no averaging.
    None,
}

impl Warmup {
    pub fn parse(s: &str) -> Option<Warmup> {
        match s {
            "exponential" => Some(Warmup::Exponential),
            "simple" => Some(Warmup::Simple),
            "none" => Some(Warmup::None),
            _ => None,
        }
    }
}

impl TaKind {
    pub fn from_name(name: &str) -> Option<TaKind> {
        Some(match name {
            "exponential_moving_average" => TaKind::Ema,
            "double_exponential_moving_average" => TaKind::Dema,
            "triple_exponential_moving_average" => TaKind::Tema,
            "triple_exponential_derivative" => TaKind::Trix,
            "relative_strength_index" => TaKind::Rsi,
            "kaufmans_efficiency_ratio" => TaKind::Ker,
            "kaufmans_adaptive_moving_average" => TaKind::Kama,
            "chande_momentum_oscillator" => TaKind::Cmo,
            _ => return None,
        })
    }

    /// The word 1.x uses in `unsupported {word} iterator type: ...`.
    pub fn iterator_word(self) -> &'static str {
        match self {
            TaKind::Ema => "exponential moving average",
            TaKind::Dema => "double exponential moving average",
            TaKind::Tema => "triple exponential moving average",
            TaKind::Trix => "triple exponential derivative",
            TaKind::Rsi => "relative strength index",
            TaKind::Ker => "kaufmans efficiency ratio",
            TaKind::Kama => "kaufmans adaptive moving average",
            TaKind::Cmo => "chande momentum oscillator",
        }
    }

    /// Whether the call takes a warm-up type argument (4th).
    pub fn has_warmup(self) -> bool {
        !matches!(self, TaKind::Ker | TaKind::Kama)
    }

    /// 1.x's default warm-up type: exponential, except `none` for chande_momentum_oscillator.
    pub fn default_warmup(self) -> Warmup {
        match self {
            TaKind::Cmo => Warmup::None,
            _ => Warmup::Exponential,
        }
    }
}

/// A call: kind, period (>= 1), hold period (`None` = the indicator's warm-up count) and
/// warm-up type.
#[derive(Debug, Clone, PartialEq)]
pub struct Ta {
    pub kind: TaKind,
    pub period: usize,
    pub hold: Option<u32>,
    pub warmup: Warmup,
}

impl Ta {
    pub fn new(kind: TaKind, period: usize, hold: Option<u32>, warmup: Option<Warmup>) -> Ta {
        Ta { kind, period: period.max(1), hold, warmup: warmup.unwrap_or(kind.default_warmup()) }
    }

    pub fn check_input_type(&self, ty: FieldType) -> Result<(), FunctionError> {
        match ty {
            FieldType::Float | FieldType::Integer | FieldType::Unsigned => Ok(()),
            _ => Err(unsupported_type_error(self.kind.iterator_word(), ty)),
        }
    }

    /// Apply to a series in stream order.
    pub fn apply(&self, points: &[Sample]) -> Result<Vec<Sample>, FunctionError> {
        let Some(ty) = series_type(points) else { return Ok(Vec::new()) };
        self.check_input_type(ty)?;
        let mut ind = Indicator::new(self.kind, self.period, self.warmup, points.len().saturating_add(2));
        let hold = self.hold.unwrap_or_else(|| ind.warm_count().min(u32::MAX as usize) as u32);
        let skip_inf = matches!(self.kind, TaKind::Trix | TaKind::Ker | TaKind::Kama);
        let mut out = Vec::new();
        let mut count: u32 = 0;
        for p in points {
            let Some(v) = as_f64(&p.value) else { continue };
            let r = ind.add(v);
            count = count.wrapping_add(1);
            if count <= hold || (skip_inf && r.is_infinite()) {
                continue;
            }
            out.push(Sample::new(p.time, Value::Float(r)));
        }
        Ok(out)
    }
}

#[derive(Debug, Clone)]
struct Ema {
    period: usize,
    last: f64,
    count: usize,
    alpha: f64,
    simple: bool,
}

impl Ema {
    fn new(period: usize, warmup: Warmup) -> Ema {
        Ema { period, last: 0.0, count: 0, alpha: 2.0 / (period + 1) as f64, simple: warmup == Warmup::Simple }
    }

    fn warm_count(&self) -> usize {
        self.period.saturating_sub(1)
    }

    fn warmed(&self) -> bool {
        self.count == self.period
    }

    fn add(&mut self, v: f64) -> f64 {
        let avg = if self.count == 0 {
            v
        } else if !self.warmed() {
            if self.simple {
                (self.last * self.count as f64 + v) / (self.count + 1) as f64
            } else {
                let a = 2.0 / (self.count + 2) as f64;
                (v - self.last) * a + self.last
            }
        } else {
            (v - self.last) * self.alpha + self.last
        };
        self.last = avg;
        if self.count < self.period {
            self.count += 1;
        }
        avg
    }
}

/// Up/down averages as relative_strength_index and the warmed-up chande oscillator use them:
/// period+1 values of warm-up, smoothing 1/period, previous value starting at 0.
#[derive(Debug, Clone)]
struct UpDown {
    up: Ema,
    down: Ema,
    last_v: f64,
}

impl UpDown {
    fn new(period: usize, warmup: Warmup) -> UpDown {
        let mut e = Ema::new(period + 1, warmup);
        e.alpha = 1.0 / period as f64;
        UpDown { up: e.clone(), down: e, last_v: 0.0 }
    }

    fn add(&mut self, v: f64) {
        let (mut up, mut down) = (0.0, 0.0);
        if v > self.last_v {
            up = v - self.last_v;
        } else if v < self.last_v {
            down = self.last_v - v;
        }
        self.up.add(up);
        self.down.add(down);
        self.last_v = v;
    }
}

#[derive(Debug, Clone)]
struct Ker {
    /// (price, |difference to the previous price|), a ring of `n` entries (only as many are
    /// allocated as the series can fill before the ring wraps).
    points: Vec<(f64, f64)>,
    n: usize,
    noise: f64,
    count: usize,
    idx: usize,
}

impl Ker {
    fn new(period: usize, cap: usize) -> Ker {
        let n = period.max(1);
        Ker { points: vec![(0.0, 0.0); n.min(cap)], n, noise: 0.0, count: 0, idx: 0 }
    }

    fn warmed(&self) -> bool {
        self.count == self.n + 1
    }

    fn add(&mut self, v: f64) -> f64 {
        let n = self.n;
        if self.idx + 1 >= self.points.len() && self.points.len() < n {
            self.points.push((0.0, 0.0));
        }
        let mut oldest = self.idx + 1;
        if oldest >= n {
            oldest = 0;
        }
        let signal = (v - self.points[oldest].0).abs();
        let kp = (v, (v - self.points[self.idx].0).abs());
        self.noise -= self.points[oldest].1;
        self.noise += kp.1;
        let noise = self.noise;
        self.idx = oldest;
        self.points[oldest] = kp;
        if !self.warmed() {
            self.count += 1;
        }
        if signal == 0.0 || noise == 0.0 {
            0.0
        } else {
            signal / noise
        }
    }
}

#[derive(Debug, Clone)]
struct Cmo {
    /// (price, difference to the previous price), a ring of `n = period - 1` entries (allocated
    /// as for [`Ker`]).
    points: Vec<(f64, f64)>,
    n: usize,
    sum_up: f64,
    sum_down: f64,
    count: usize,
    idx: usize,
}

impl Cmo {
    fn add(&mut self, v: f64) -> f64 {
        let n = self.n;
        if self.idx + 1 >= self.points.len() && self.points.len() < n {
            self.points.push((0.0, 0.0));
        }
        if n == 0 {
            // 1.x cannot compute a period of 1 without warm-up; answer 0.
            return 0.0;
        }
        let mut oldest = self.idx + 1;
        if oldest == n {
            oldest = 0;
        }
        let mut diff = 0.0;
        if self.count != 0 {
            diff = v - self.points[self.idx].0;
            if diff > 0.0 {
                self.sum_up += diff;
            } else if diff < 0.0 {
                self.sum_down -= diff;
            }
        }
        let mut out = 0.0;
        if self.sum_up != 0.0 || self.sum_down != 0.0 {
            out = 100.0 * ((self.sum_up - self.sum_down) / (self.sum_up + self.sum_down));
        }
        let old = self.points[oldest].1;
        if old > 0.0 {
            self.sum_up -= old;
        } else if old < 0.0 {
            self.sum_down += old;
        }
        self.points[oldest] = (v, diff);
        self.idx = oldest;
        if self.count != n + 2 {
            self.count += 1;
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Indicator {
    Ema(Ema),
    Dema(Ema, Ema),
    Tema(Ema, Ema, Ema),
    Trix { e: [Ema; 3], last: f64, count: usize },
    Rsi(UpDown),
    Ker(Ker),
    Kama { ker: Ker, last: f64 },
    Cmo(Cmo),
    Cmos(UpDown),
}

/// Whether a chained average feeds the next one: once warmed, or always with exponential
/// warm-up.
fn feeds(e: &Ema) -> bool {
    e.warmed() || !e.simple
}

impl Indicator {
    /// `cap`: the number of points the indicator will see (bounds ring allocations).
    fn new(kind: TaKind, p: usize, w: Warmup, cap: usize) -> Indicator {
        let ew = if w == Warmup::None { Warmup::Exponential } else { w };
        match kind {
            TaKind::Ema => Indicator::Ema(Ema::new(p, ew)),
            TaKind::Dema => Indicator::Dema(Ema::new(p, ew), Ema::new(p, ew)),
            TaKind::Tema => Indicator::Tema(Ema::new(p, ew), Ema::new(p, ew), Ema::new(p, ew)),
            TaKind::Trix => Indicator::Trix { e: [Ema::new(p, ew), Ema::new(p, ew), Ema::new(p, ew)], last: 0.0, count: 0 },
            TaKind::Rsi => Indicator::Rsi(UpDown::new(p, ew)),
            TaKind::Ker => Indicator::Ker(Ker::new(p, cap)),
            TaKind::Kama => Indicator::Kama { ker: Ker::new(p, cap), last: 0.0 },
            TaKind::Cmo if w == Warmup::None => Indicator::Cmo(Cmo {
                points: vec![(0.0, 0.0); p.saturating_sub(1).min(cap)],
                n: p.saturating_sub(1),
                sum_up: 0.0,
                sum_down: 0.0,
                count: 0,
                idx: 0,
            }),
            TaKind::Cmo => Indicator::Cmos(UpDown::new(p, ew)),
        }
    }

    fn warm_count(&self) -> usize {
        match self {
            Indicator::Ema(e) => e.warm_count(),
            Indicator::Dema(a, b) => {
                if a.simple {
                    a.warm_count() + b.warm_count()
                } else {
                    a.warm_count()
                }
            }
            Indicator::Tema(a, b, c) => {
                if a.simple {
                    a.warm_count() + b.warm_count() + c.warm_count()
                } else {
                    a.warm_count()
                }
            }
            Indicator::Trix { e, .. } => {
                if e[0].simple {
                    e[0].warm_count() * 3 + 1
                } else {
                    e[0].warm_count() + 1
                }
            }
            Indicator::Rsi(u) | Indicator::Cmos(u) => u.up.warm_count(),
            Indicator::Ker(k) | Indicator::Kama { ker: k, .. } => k.n,
            Indicator::Cmo(c) => c.n,
        }
    }

    fn add(&mut self, v: f64) -> f64 {
        match self {
            Indicator::Ema(e) => e.add(v),
            Indicator::Dema(e1, e2) => {
                let a1 = e1.add(v);
                let a2 = if feeds(e1) { e2.add(a1) } else { a1 };
                2.0 * a1 - a2
            }
            Indicator::Tema(e1, e2, e3) => {
                let a1 = e1.add(v);
                let a2 = if feeds(e1) { e2.add(a1) } else { a1 };
                let a3 = if feeds(e2) { e3.add(a2) } else { a2 };
                3.0 * a1 - 3.0 * a2 + a3
            }
            Indicator::Trix { e, last, count } => {
                let mut cur = e[0].add(v);
                if feeds(&e[0]) {
                    cur = e[1].add(cur);
                    if feeds(&e[1]) {
                        cur = e[2].add(cur);
                    }
                }
                let rate = ((cur / *last) - 1.0) * 100.0;
                *last = cur;
                if *count != 2 && e[2].warmed() {
                    *count += 1;
                }
                rate
            }
            Indicator::Rsi(u) => {
                u.add(v);
                100.0 - (100.0 / (1.0 + u.up.last / u.down.last))
            }
            Indicator::Cmos(u) => {
                u.add(v);
                let (up, down) = (u.up.last, u.down.last);
                100.0 * ((up - down) / (up + down))
            }
            Indicator::Ker(k) => k.add(v),
            Indicator::Kama { ker, last } => {
                if !ker.warmed() {
                    *last = ker.points[ker.idx].0;
                }
                let er = ker.add(v);
                let x = er * (56.0 / 93.0) + 2.0 / 31.0;
                let sc = x * x;
                *last += sc * (v - *last);
                *last
            }
            Indicator::Cmo(c) => c.add(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: TaKind, p: usize, hold: Option<u32>, w: Option<Warmup>, vals: &[f64]) -> Vec<(i64, f64)> {
        let pts: Vec<Sample> =
            vals.iter().enumerate().map(|(i, v)| Sample::new(i as i64, Value::Float(*v))).collect();
        Ta::new(kind, p, hold, w)
            .apply(&pts)
            .unwrap()
            .into_iter()
            .map(|s| match s.value {
                Value::Float(f) => (s.time, f),
                _ => panic!("not a float"),
            })
            .collect()
    }

    #[test]
    fn ema_warmup_and_hold() {
        // period 3: warm-up count 2, so output starts at the 3rd point.
        let r = run(TaKind::Ema, 3, None, None, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(r[0].0, 2);
        // exponential warm-up: 1, 1.5 (alpha 2/3 at count 1 -> 1 + 2/3*1 = 1.6666..), ...
        let a1 = (2.0 - 1.0) * (2.0 / 3.0) + 1.0;
        let a2 = (3.0 - a1) * (2.0 / 4.0) + a1;
        assert_eq!(r[0].1, a2);
        let a3 = (4.0 - a2) * 0.5 + a2;
        assert_eq!(r[1].1, a3);
        // hold 0 emits every point; simple warm-up is the running mean.
        let r = run(TaKind::Ema, 3, Some(0), Some(Warmup::Simple), &[1.0, 2.0, 6.0]);
        assert_eq!(r.iter().map(|x| x.1).collect::<Vec<_>>(), vec![1.0, 1.5, 3.0]);
    }

    #[test]
    fn trix_skips_infinite() {
        let r = run(TaKind::Trix, 2, Some(0), None, &[1.0, 2.0, 3.0]);
        // the first rate divides by 0 and is dropped.
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn ker_and_cmo() {
        let r = run(TaKind::Ker, 2, Some(0), None, &[1.0, 2.0, 3.0, 2.0]);
        // last: signal |2-2| = 0 -> 0
        assert_eq!(r.last().map(|x| x.1), Some(0.0));
        let r = run(TaKind::Cmo, 3, Some(0), None, &[1.0, 2.0, 3.0, 2.0]);
        assert_eq!(r[0].1, 0.0);
        assert_eq!(r[1].1, 100.0);
    }

    #[test]
    fn huge_periods_allocate_little() {
        let r = run(TaKind::Ker, 1 << 40, Some(0), None, &[1.0, 2.0, 4.0]);
        assert_eq!(r.len(), 3);
        let r = run(TaKind::Cmo, 1 << 40, Some(0), None, &[1.0, 2.0, 4.0]);
        assert_eq!(r.len(), 3);
        assert!(run(TaKind::Kama, 1 << 40, None, None, &[1.0, 2.0]).is_empty());
    }

    #[test]
    fn rejects_strings() {
        let pts = vec![Sample::new(0, Value::String("x".into()))];
        let e = Ta::new(TaKind::Rsi, 2, None, None).apply(&pts).unwrap_err();
        assert_eq!(e.0, "unsupported relative strength index iterator type: *query.stringInterruptIterator");
    }

    /// Answers captured from InfluxDB 1.6.7 over 12 points 10s apart.
    #[test]
    fn matches_influxdb_1_6_7() {
        let v = [3.5, 7.25, 1.0, 9.5, 4.0, 4.0, 12.75, 2.5, 8.0, 6.5, 11.0, 3.0];
        let vals = |k, p, h, w| run(k, p, h, w, &v).into_iter().map(|x| x.1).collect::<Vec<f64>>();
        let first = |k, p, h, w| run(k, p, h, w, &v).first().map(|x| x.0);
        use TaKind::*;
        assert_eq!(
            vals(Ema, 3, None, None),
            vec![3.5, 6.5, 5.25, 4.625, 8.6875, 5.59375, 6.796875, 6.6484375, 8.82421875, 5.912109375]
        );
        assert_eq!(first(Ema, 3, None, None), Some(2));
        let r = vals(Ema, 3, Some(0), Some(Warmup::Simple));
        assert_eq!((r[2], r[11]), (3.9166666666666665, 5.912923177083334));
        let r = vals(Dema, 3, Some(1), Some(Warmup::Simple));
        assert_eq!((r.len(), r[2], r[10]), (11, 8.104166666666668, 5.016737196180556));
        let r = vals(Dema, 3, None, None);
        assert_eq!((r.len(), r[0], r[9]), (10, 2.666666666666667, 5.017903645833334));
        let r = vals(Tema, 2, Some(0), Some(Warmup::Simple));
        assert_eq!((r[2], r[3], r[11]), (-0.45833333333333304, 8.231481481481477, 3.4534054579906313));
        let r = vals(Trix, 2, None, Some(Warmup::Simple));
        assert_eq!((first(Trix, 2, None, Some(Warmup::Simple)), r[0], r[7]), (Some(4), 5.29296673874986, -13.614365062606538));
        let r = vals(Trix, 3, None, None);
        assert_eq!((r.len(), r[0], r[8]), (9, 10.559006211180133, -1.8484685652874866));
        let r = vals(Rsi, 3, Some(0), None);
        assert_eq!((r[0], r[2], r[11]), (100.0, 36.97478991596639, 35.96434064072153));
        let r = vals(Rsi, 3, None, Some(Warmup::Simple));
        assert_eq!((first(Rsi, 3, None, Some(Warmup::Simple)), r[0], r[8]), (Some(3), 71.5909090909091, 35.79800204515064));
        let r = vals(Ker, 3, Some(0), None);
        assert_eq!((r[0], r[2], r[11]), (1.0, 0.07407407407407407, 0.35714285714285715));
        let r = vals(Kama, 2, None, None);
        assert_eq!((r.len(), r[0], r[9]), (10, 6.960949242687016, 8.356237287502502));
        let r = vals(Cmo, 3, None, None);
        assert_eq!((r.len(), r[0], r[1], r[9]), (10, -25.0, 32.432432432432435, -35.714285714285715));
        let r = vals(Cmo, 3, Some(0), Some(Warmup::Exponential));
        assert_eq!((r[0], r[4], r[11]), (100.0, -1.3698630136986254, -28.07131871855693));
        let r = vals(Cmo, 4, Some(1), Some(Warmup::Simple));
        assert_eq!((r.len(), r[1], r[10]), (11, 7.407407407407401, -17.05631924772008));
    }
}
