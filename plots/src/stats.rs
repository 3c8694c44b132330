//! Small statistics: means with Student-t confidence intervals over repetitions, and the ratio
//! of two means (Welch, on the log scale).

/// Two-sided 97.5 % quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 0.975 quantile of Student's t with `df` degrees of freedom (fractional `df`, as Welch's
/// approximation gives, is interpolated; beyond 30 it approaches the normal 1.96).
pub fn t975(df: f64) -> f64 {
    if !df.is_finite() || df <= 1.0 {
        return T975[0];
    }
    if df >= 30.0 {
        return 1.96 + (T975[29] - 1.96) * 30.0 / df;
    }
    let lo = df.floor();
    let frac = df - lo;
    let i = lo as usize - 1;
    let a = T975.get(i).copied().unwrap_or(T975[29]);
    let b = T975.get(i + 1).copied().unwrap_or(T975[29]);
    a + (b - a) * frac
}

/// The mean of a sample and the half-width of its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// Half-width of the 95 % confidence interval; `None` with fewer than two samples.
    pub ci95: Option<f64>,
    /// The number of samples.
    pub n: usize,
}

impl Estimate {
    /// The estimate of `samples`' mean; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Estimate> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mean = mean(samples);
        let ci95 = (n >= 2).then(|| t975((n - 1) as f64) * (variance(samples) / n as f64).sqrt());
        Some(Estimate { mean, ci95, n })
    }
}

/// The arithmetic mean (0 for no samples).
pub fn mean(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// The unbiased sample variance (0 for fewer than two samples).
pub fn variance(samples: &[f64]) -> f64 {
    let n = samples.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(samples);
    samples.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64
}

/// The ratio of means `mean(b) / mean(a)` with its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratio {
    /// `mean(b) / mean(a)`.
    pub ratio: f64,
    /// The interval `(low, high)`; `None` when either side has fewer than two samples or a
    /// non-positive mean.
    pub ci95: Option<(f64, f64)>,
}

/// The ratio of means of `b` over `a`, its interval from Welch's t on the log scale (delta
/// method: the variance of `ln mean` is `s² / (n mean²)`); `None` when `mean(a)` is zero or
/// either sample is empty.
pub fn ratio_of_means(a: &[f64], b: &[f64]) -> Option<Ratio> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (ma, mb) = (mean(a), mean(b));
    if ma <= 0.0 || !ma.is_finite() || !mb.is_finite() {
        return None;
    }
    let ratio = mb / ma;
    if a.len() < 2 || b.len() < 2 || mb <= 0.0 {
        return Some(Ratio { ratio, ci95: None });
    }
    let va = variance(a) / (a.len() as f64 * ma * ma);
    let vb = variance(b) / (b.len() as f64 * mb * mb);
    let se = (va + vb).sqrt();
    let df = if se > 0.0 {
        (va + vb).powi(2)
            / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64)
                .max(f64::MIN_POSITIVE)
    } else {
        (a.len() + b.len() - 2) as f64
    };
    let half = t975(df) * se;
    let log = ratio.ln();
    Some(Ratio { ratio, ci95: Some(((log - half).exp(), (log + half).exp())) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles() {
        for (df, want) in [(1.0, 12.706), (2.0, 4.303), (2.5, 3.7425), (30.0, 2.042), (1e9, 1.96)] {
            assert!((t975(df) - want).abs() < 1e-3, "df {df}: {} != {want}", t975(df));
        }
    }

    #[test]
    fn estimates() {
        assert_eq!(Estimate::of(&[]), None);
        let one = Estimate::of(&[3.0]);
        assert_eq!(one, Some(Estimate { mean: 3.0, ci95: None, n: 1 }));
        let two = Estimate::of(&[1.0, 3.0]).map(|e| (e.mean, e.ci95.map(|c| (c * 1000.0).round())));
        // s = sqrt(2), se = 1, t(1) = 12.706
        assert_eq!(two, Some((2.0, Some(12706.0))));
    }

    #[test]
    fn ratios() {
        let r = ratio_of_means(&[100.0, 102.0, 98.0], &[50.0, 51.0, 49.0]);
        let r = r.and_then(|r| r.ci95.map(|ci| (r.ratio, ci)));
        let Some((ratio, (lo, hi))) = r else { panic!("no interval") };
        assert!((ratio - 0.5).abs() < 1e-12);
        assert!(lo < 0.5 && hi > 0.5 && hi < 1.0, "{lo} {hi}");
        assert_eq!(ratio_of_means(&[0.0], &[1.0]), None);
        assert_eq!(ratio_of_means(&[2.0], &[1.0]).map(|r| r.ci95), Some(None));
    }
}
