//! Latency percentiles from a sorted vector of samples (microseconds). A run holds at most a few
//! hundred thousand samples, so sorting them is exact and cheaper than any bucketed histogram.

#[derive(Debug, Clone, Default)]
pub struct Samples {
    micros: Vec<u64>,
    sorted: bool,
}

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Self { micros: Vec::with_capacity(n), sorted: true }
    }

    pub fn push(&mut self, micros: u64) {
        self.micros.push(micros);
        self.sorted = false;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.micros.sort_unstable();
            self.sorted = true;
        }
    }

    /// Nearest-rank percentile (`p` in 0..=100): the smallest sample with at least `p`% of the
    /// samples at or below it. `None` without samples.
    pub fn percentile(&mut self, p: f64) -> Option<u64> {
        if self.micros.is_empty() {
            return None;
        }
        self.sort();
        let n = self.micros.len();
        // The epsilon keeps exact ranks exact: 0.999 * 1000 is 999.0000000000001 in floating point.
        let rank = (p.clamp(0.0, 100.0) * n as f64 / 100.0 - 1e-9).ceil() as usize;
        Some(self.micros[rank.clamp(1, n) - 1])
    }

    /// The percentile in milliseconds (0 without samples), for the table.
    pub fn ms(&mut self, p: f64) -> f64 {
        self.percentile(p).map(|us| us as f64 / 1000.0).unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: impl IntoIterator<Item = u64>) -> Samples {
        let mut s = Samples::with_capacity(16);
        for v in values {
            s.push(v);
        }
        s
    }

    #[test]
    fn nearest_rank_on_one_to_a_thousand() {
        // Shuffled on purpose: the order samples arrive in must not matter.
        let mut s = of((1..=1000).map(|i| (i * 7919) % 1000 + 1));
        assert_eq!(s.len(), 1000);
        assert_eq!(s.percentile(50.0), Some(500));
        assert_eq!(s.percentile(99.0), Some(990));
        assert_eq!(s.percentile(99.9), Some(999));
        assert_eq!(s.percentile(100.0), Some(1000));
        assert_eq!(s.percentile(0.0), Some(1));
    }

    #[test]
    fn small_and_empty_sets() {
        assert_eq!(Samples::default().percentile(50.0), None);
        assert_eq!(Samples::default().ms(99.0), 0.0);
        let mut one = of([42]);
        assert_eq!(one.percentile(0.0), Some(42));
        assert_eq!(one.percentile(99.9), Some(42));
        // Two samples: p50 is the lower one, anything above it the higher one.
        let mut two = of([10, 20]);
        assert_eq!(two.percentile(50.0), Some(10));
        assert_eq!(two.percentile(50.1), Some(20));
        assert_eq!(two.ms(100.0), 0.02);
    }

    #[test]
    fn a_slow_tail_shows_in_p99_not_p50() {
        // 990 fast requests and 10 slow ones: p99 is still fast, p99.9 is slow.
        let mut s = of(std::iter::repeat_n(1_000, 990).chain(std::iter::repeat_n(250_000, 10)));
        assert_eq!(s.percentile(50.0), Some(1_000));
        assert_eq!(s.percentile(99.0), Some(1_000));
        assert_eq!(s.percentile(99.1), Some(250_000));
        assert_eq!(s.percentile(99.9), Some(250_000));
    }
}
