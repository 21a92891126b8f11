//! Bayes ceilings: how well a predictor that knew the simulator's latent states could score.
//!
//! A binarised call (a marker HIGH, the gate ON) depends on expression only through latent
//! causes (a cell's type; a gate's rule on its inputs' states) plus count noise that no method
//! can predict. The predictor `P(call | state)`, estimated on the training cells and applied
//! to the scored cells, is then the best any method that sees expression can do, up to the
//! estimation error of a frequency per state: the ceiling printed beside every score. Unlike
//! a hand-derived formula it also accounts for what the binarisation does (a quantile cut that
//! falls inside a type's mode, library-size noise).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::expression::ObsColumn;

/// Each listed cell's state in `column` as a key ([`ObsColumn::label`]: a categorical's label,
/// a number as text, NaN and missing values states of their own).
///
/// # Errors
/// [`Error::Shape`] if a row is outside the column.
pub fn state_keys(column: &ObsColumn, rows: &[usize]) -> Result<Vec<String>> {
    if let Some(&r) = rows.iter().find(|&&r| r >= column.len()) {
        return Err(Error::shape(
            "latent-state column",
            format!("more than {r} cells"),
            format!("{} cells", column.len()),
        ));
    }
    Ok(rows.iter().map(|&r| column.label(r)).collect())
}

/// `P(label | state)` of the training cells, for each scored cell's state: the frequency of
/// the label among the training cells in that state, shrunk towards the overall rate by one
/// pseudo-cell (`(positives + rate) / (cells + 1)`, so a state seen once is not certain), and
/// the overall rate for a state no training cell is in.
///
/// # Errors
/// [`Error::Shape`] if `train_states` and `train_labels` differ in length; [`Error::Empty`]
/// without training cells.
pub fn state_oracle(
    train_states: &[String],
    train_labels: &[bool],
    held_states: &[String],
) -> Result<Vec<f64>> {
    if train_states.len() != train_labels.len() {
        return Err(Error::shape(
            "state_oracle",
            format!("{} training labels", train_states.len()),
            format!("{}", train_labels.len()),
        ));
    }
    if train_labels.is_empty() {
        return Err(Error::Empty {
            what: "state_oracle",
            why: "no training cells".into(),
        });
    }
    let rate = train_labels.iter().filter(|&&l| l).count() as f64 / train_labels.len() as f64;
    let mut counts: HashMap<&str, (f64, f64)> = HashMap::new();
    for (s, &l) in train_states.iter().zip(train_labels) {
        let e = counts.entry(s.as_str()).or_insert((0.0, 0.0));
        e.0 += f64::from(u8::from(l));
        e.1 += 1.0;
    }
    Ok(held_states
        .iter()
        .map(|s| {
            counts
                .get(s.as_str())
                .map_or(rate, |&(pos, n)| (pos + rate) / (n + 1.0))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_reads_the_state_and_falls_back_to_the_rate() {
        let col = ObsColumn::Categorical {
            categories: vec!["a".into(), "b".into()],
            codes: vec![0, 0, 0, 1, 1, 1, -1],
        };
        let keys = state_keys(&col, &[0, 3, 6]).unwrap();
        assert_eq!(keys, vec!["a", "b", ""]);
        assert!(state_keys(&col, &[7]).is_err());
        let train: Vec<String> = ["a", "a", "a", "b", "b", "b"].map(String::from).to_vec();
        let labels = [true, true, true, false, false, true];
        let p = state_oracle(&train, &labels, &["a".into(), "b".into(), "c".into()]).unwrap();
        // a: (3 + 4/6) / 4; b: (1 + 4/6) / 4; c: the rate 4/6.
        assert!((p[0] - (3.0 + 4.0 / 6.0) / 4.0).abs() < 1e-12);
        assert!((p[1] - (1.0 + 4.0 / 6.0) / 4.0).abs() < 1e-12);
        assert!((p[2] - 4.0 / 6.0).abs() < 1e-12);
        assert!(state_oracle(&train, &labels[..2], &[]).is_err());
        assert!(state_oracle(&[], &[], &[]).is_err());
        let num = ObsColumn::Numeric(vec![1.0, f64::NAN]);
        assert_eq!(state_keys(&num, &[0, 1]).unwrap(), vec!["1", "NaN"]);
    }
}
