//! What one run measured, and how runs of the same contender are summed up.

use std::time::Duration;

/// Latencies of one kind of request in one run, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u32>);

impl Samples {
    /// Records one latency.
    pub fn push(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds every latency of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// How many were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Nearest-rank percentile (`q` in 0..=1), in milliseconds; NaN when empty.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (sorted.len() as f64 * q).ceil() as usize;
        f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1e3
    }
}

/// The figures of one run of one contender at one concurrency.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Run {
    /// Requests answered as expected per second, over the measured window.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// The scenario's extra figure: the `/health` p99 in ms (SQLite), the upstream
    /// connections opened (HTTP).
    pub extra: f64,
    /// Requests that failed (an error, an unexpected status, a timeout).
    pub errors: usize,
}

/// Several runs of one contender at one concurrency: medians, and the range of the
/// throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Median over the runs.
    pub median: Run,
    /// Lowest throughput of the runs.
    pub rps_min: f64,
    /// Highest throughput of the runs.
    pub rps_max: f64,
    /// Runs summed up.
    pub runs: usize,
    /// The throughput of each run, in the order of the rounds.
    pub rps_by_round: Vec<f64>,
}

/// One contender's throughput over another's, round by round: the two ran back to back in
/// each round, so their ratio cancels most of what the machine did meanwhile, which the
/// ratio of two medians does not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Median of the per-round ratios.
    pub median: f64,
    /// Lowest per-round ratio.
    pub min: f64,
    /// Highest per-round ratio.
    pub max: f64,
    /// Rounds in which the first was ahead.
    pub ahead: usize,
    /// Rounds compared.
    pub rounds: usize,
}

impl Paired {
    /// `a`'s req/s over `b`'s, round by round; `None` if they share no round.
    pub fn of(a: &Summary, b: &Summary) -> Option<Self> {
        let ratios: Vec<f64> = a
            .rps_by_round
            .iter()
            .zip(&b.rps_by_round)
            .map(|(a, b)| a / b)
            .collect();
        if ratios.is_empty() {
            return None;
        }
        Some(Self {
            median: median(ratios.clone()),
            min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            max: ratios.iter().copied().fold(0.0, f64::max),
            ahead: ratios.iter().filter(|&&ratio| ratio > 1.0).count(),
            rounds: ratios.len(),
        })
    }
}

/// `1.04x (0.96x-1.14x), ahead in 4 of 5 rounds`.
impl std::fmt::Display for Paired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2}x ({:.2}x-{:.2}x), ahead in {} of {} round{}",
            self.median,
            self.min,
            self.max,
            self.ahead,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" }
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Summary {
    /// Medians of each figure over `runs` (errors are added up); `None` for no runs.
    pub fn of(runs: &[Run]) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        let pick = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        Some(Self {
            median: Run {
                rps: pick(|r| r.rps),
                p50_ms: pick(|r| r.p50_ms),
                p99_ms: pick(|r| r.p99_ms),
                extra: pick(|r| r.extra),
                errors: runs.iter().map(|r| r.errors).sum(),
            },
            rps_min: runs.iter().map(|r| r.rps).fold(f64::INFINITY, f64::min),
            rps_max: runs.iter().map(|r| r.rps).fold(0.0, f64::max),
            runs: runs.len(),
            rps_by_round: runs.iter().map(|r| r.rps).collect(),
        })
    }
}

/// A small deterministic generator (xorshift64*), so that every contender gets the same
/// sequence of requests without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for client number `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut samples = Samples::default();
        for micros in 1..=100 {
            samples.push(Duration::from_micros(micros * 1000));
        }
        assert_eq!(samples.percentile_ms(0.5), 50.0);
        assert_eq!(samples.percentile_ms(0.99), 99.0);
        assert!(Samples::default().percentile_ms(0.5).is_nan());
    }

    #[test]
    fn summary_takes_medians_and_the_range() {
        let run = |rps| Run {
            rps,
            p50_ms: rps / 10.0,
            p99_ms: 1.0,
            extra: 0.0,
            errors: 1,
        };
        let summary = Summary::of(&[run(30.0), run(10.0), run(20.0)]).unwrap();
        assert_eq!(summary.median.rps, 20.0);
        assert_eq!(summary.median.p50_ms, 2.0);
        assert_eq!((summary.rps_min, summary.rps_max), (10.0, 30.0));
        assert_eq!(summary.median.errors, 3);
        assert_eq!(summary.rps_by_round, [30.0, 10.0, 20.0]);
        assert!(Summary::of(&[]).is_none());
    }

    /// Round by round, not median over median: here the medians are equal (20 and 20),
    /// while `a` was ahead in two rounds of three.
    #[test]
    fn paired_ratios_compare_round_by_round() {
        let summary = |rps: &[f64]| Summary {
            rps_by_round: rps.to_vec(),
            ..Summary::of(&[Run::default()]).unwrap()
        };
        let (a, b) = (summary(&[11.0, 20.0, 30.0]), summary(&[10.0, 25.0, 20.0]));
        let paired = Paired::of(&a, &b).unwrap();
        assert_eq!(paired.median, 1.1);
        assert_eq!((paired.min, paired.max), (0.8, 1.5));
        assert_eq!((paired.ahead, paired.rounds), (2, 3));
        assert_eq!(
            paired.to_string(),
            "1.10x (0.80x-1.50x), ahead in 2 of 3 rounds"
        );
        assert!(Paired::of(&a, &summary(&[])).is_none());
    }
}
