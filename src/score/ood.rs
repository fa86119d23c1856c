//! Out-of-distribution detection metrics on anomaly scores.
//!
//! Convention: the out-distribution is the positive class and a higher
//! anomaly score means more anomalous; an image is flagged when its score is
//! at least the threshold. Equal scores are one threshold step (they cannot
//! be separated), which makes every metric independent of the input order.
use anyhow::{bail, Result};
use serde::Serialize;

/// The detection metrics of one out-distribution against the in-distribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// Area under the ROC curve: P(s_out > s_in) + ½ P(s_out = s_in).
    pub auroc: f64,
    /// Area under the precision-recall curve, as average precision.
    pub auprc: f64,
    /// The smallest false-positive rate among thresholds with TPR ≥ 0.95.
    pub fpr_at_95_tpr: f64,
}

/// All three metrics; errors on an empty class or a non-finite score.
pub fn detection(in_scores: &[f64], out_scores: &[f64]) -> Result<Detection> {
    for (name, scores) in [("in", in_scores), ("out", out_scores)] {
        if scores.is_empty() {
            bail!("no {name}-distribution scores to compare");
        }
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            bail!(
                "the anomaly score of {name}-distribution image {i} is {}",
                scores[i]
            );
        }
    }
    Ok(Detection {
        auroc: auroc(in_scores, out_scores),
        auprc: average_precision(in_scores, out_scores),
        fpr_at_95_tpr: fpr_at_tpr(in_scores, out_scores, 0.95),
    })
}

/// Cumulative (true positives, false positives) after each distinct score,
/// from the highest score down.
fn steps(in_scores: &[f64], out_scores: &[f64]) -> Vec<(usize, usize)> {
    let mut all: Vec<(f64, bool)> = in_scores
        .iter()
        .map(|&s| (s, false))
        .chain(out_scores.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0, 0);
    let mut out = Vec::new();
    for (i, &(s, positive)) in all.iter().enumerate() {
        if positive {
            tp += 1;
        } else {
            fp += 1;
        }
        // Close a step only where the next score differs: ties stay together.
        if all.get(i + 1).is_none_or(|next| next.0 != s) {
            out.push((tp, fp));
        }
    }
    out
}

/// The ROC curve as (FPR, TPR) points from (0, 0) to (1, 1), one per
/// distinct score.
pub fn roc_curve(in_scores: &[f64], out_scores: &[f64]) -> Vec<(f64, f64)> {
    let (p, n) = (
        out_scores.len().max(1) as f64,
        in_scores.len().max(1) as f64,
    );
    std::iter::once((0.0, 0.0))
        .chain(
            steps(in_scores, out_scores)
                .into_iter()
                .map(|(tp, fp)| (fp as f64 / n, tp as f64 / p)),
        )
        .collect()
}

/// The trapezoidal area under the ROC curve. With ties grouped into one
/// step, the trapezoids count a tied (out, in) pair as ½, so this equals the
/// Mann–Whitney statistic.
pub fn auroc(in_scores: &[f64], out_scores: &[f64]) -> f64 {
    roc_curve(in_scores, out_scores)
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

/// Average precision: Σ_k (R_k − R_{k−1}) · P_k over the distinct scores
/// from the highest down (recall R, precision P at "score ≥ threshold").
pub fn average_precision(in_scores: &[f64], out_scores: &[f64]) -> f64 {
    let p = out_scores.len().max(1) as f64;
    let mut prev_tp = 0;
    let mut ap = 0.0;
    for (tp, fp) in steps(in_scores, out_scores) {
        if tp > prev_tp {
            ap += (tp - prev_tp) as f64 / p * tp as f64 / (tp + fp) as f64;
        }
        prev_tp = tp;
    }
    ap
}

/// The smallest FPR among thresholds whose TPR is at least `tpr`; FPR grows
/// with TPR as the threshold falls, so that is the first such threshold.
pub fn fpr_at_tpr(in_scores: &[f64], out_scores: &[f64], tpr: f64) -> f64 {
    let (p, n) = (
        out_scores.len().max(1) as f64,
        in_scores.len().max(1) as f64,
    );
    steps(in_scores, out_scores)
        .into_iter()
        // The tolerance keeps 19/20 ≥ 0.95 true despite rounding.
        .find(|&(tp, _)| tp as f64 / p >= tpr - 1e-12)
        .map_or(1.0, |(_, fp)| fp as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    fn check(ins: &[f64], outs: &[f64], auroc: f64, auprc: f64, fpr95: f64) {
        let d = detection(ins, outs).unwrap();
        close(d.auroc, auroc);
        close(d.auprc, auprc);
        close(d.fpr_at_95_tpr, fpr95);
    }

    #[test]
    fn perfect_separation() {
        check(&[1.0, 2.0, 3.0], &[4.0, 5.0], 1.0, 1.0, 0.0);
    }

    #[test]
    fn reversed_separation() {
        // From the top: in 4, in 3, out 2 (P = 1/3, R = 1/2), out 1 (P = 2/4, R = 1).
        check(&[3.0, 4.0], &[1.0, 2.0], 0.0, 0.5 / 3.0 + 0.5 * 0.5, 1.0);
    }

    #[test]
    fn mixed_without_ties() {
        // 3 of the 4 (out, in) pairs are ordered right. From the top: out 0.8
        // (P = 1, R = 1/2), in 0.4, out 0.35 (P = 2/3, R = 1; FPR 1/2).
        check(&[0.1, 0.4], &[0.35, 0.8], 0.75, 0.5 + 0.5 * 2.0 / 3.0, 0.5);
    }

    #[test]
    fn ties_count_half_and_group() {
        // Pairs: out 2 beats in 1, ties the two in 2s (½ each); out 3 beats
        // all three: (1 + ½ + ½ + 3) / 6. Steps: {3}: P = 1, R = 1/2; {2, 2, 2}:
        // tp 2, fp 2, P = 1/2, R = 1, FPR 2/3.
        check(&[1.0, 2.0, 2.0], &[2.0, 3.0], 5.0 / 6.0, 0.75, 2.0 / 3.0);
    }

    #[test]
    fn all_tied() {
        check(&[1.0, 1.0], &[1.0, 1.0], 0.5, 0.5, 1.0);
    }

    #[test]
    fn tpr_of_exactly_95_percent_counts() {
        // 20 out scores 1..=20; TPR reaches 19/20 at threshold 2, above the
        // in score 1.5, so FPR@95 is 0 (it would be 1/4 with TPR > 0.95).
        let outs: Vec<f64> = (1..=20).map(f64::from).collect();
        let ins = [1.5, 0.5, 0.2, 0.1];
        close(fpr_at_tpr(&ins, &outs, 0.95), 0.0);
        close(fpr_at_tpr(&ins, &outs, 1.0), 0.25);
        // The only misordered pairs: out 1 below in 1.5.
        close(auroc(&ins, &outs), 1.0 - 1.0 / 80.0);
    }

    #[test]
    fn order_of_inputs_does_not_matter() {
        let a = detection(&[2.0, 1.0, 2.0], &[3.0, 2.0]).unwrap();
        let b = detection(&[1.0, 2.0, 2.0], &[2.0, 3.0]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn roc_goes_from_origin_to_one_one() {
        let roc = roc_curve(&[1.0, 2.0, 2.0], &[2.0, 3.0]);
        assert_eq!(
            roc,
            vec![(0.0, 0.0), (0.0, 0.5), (2.0 / 3.0, 1.0), (1.0, 1.0)]
        );
    }

    #[test]
    fn empty_or_non_finite_scores_are_errors() {
        let e = detection(&[], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("no in-distribution"), "{e}");
        let e = detection(&[1.0], &[f64::NAN]).unwrap_err().to_string();
        assert!(e.contains("out-distribution image 0"), "{e}");
    }
}
