//! Transfer scaling laws: the fit recovers known exponents from noisy data, the trade and the
//! projection, bad input.

use cellsindy::scaling::{archive_year, fit, read_points, FitParams, TransferLaw, TransferPoint};
use cellsindy::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Measurements from `D_t = k D_f^α N^β` times log-normal noise of standard deviation `sigma`
/// (in ln units), on a grid of 6 data sizes × 5 model sizes.
fn noisy_points(law: TransferLaw, sigma: f64, seed: u64) -> Vec<TransferPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for i in 0..6 {
        for j in 0..5 {
            let d_f = 100.0 * 4f64.powi(i);
            let n = 1e4 * 5f64.powi(j);
            // Box–Muller.
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let d_t = law.effective_data(d_f, n).unwrap() * (sigma * z).exp();
            out.push(TransferPoint { d_f, n, d_t });
        }
    }
    out
}

#[test]
fn scaling_fit_recovers_alpha_and_beta_within_ten_percent_from_noisy_data() {
    let truth = TransferLaw {
        k: 3.0,
        alpha: 0.38,
        beta: 0.55,
    };
    for seed in 0..5 {
        let pts = noisy_points(truth, 0.2, seed);
        let f = fit(
            &pts,
            &FitParams {
                seed,
                ..FitParams::default()
            },
        )
        .unwrap();
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
        assert!(
            rel(f.law.alpha, truth.alpha) < 0.1,
            "seed {seed}: {:?}",
            f.law
        );
        assert!(
            rel(f.law.beta, truth.beta) < 0.1,
            "seed {seed}: {:?}",
            f.law
        );
        let (a, b) = (f.alpha_ci.unwrap(), f.beta_ci.unwrap());
        assert!(a.lo < f.law.alpha && f.law.alpha < a.hi);
        assert!(b.lo < f.law.beta && f.law.beta < b.hi);
        assert!(a.hi - a.lo < 0.2, "{a:?}");
        // Same seed, same intervals.
        let again = fit(
            &pts,
            &FitParams {
                seed,
                ..FitParams::default()
            },
        )
        .unwrap();
        assert_eq!(f, again);
    }
    // Noise-free data are fitted exactly.
    let exact = fit(&noisy_points(truth, 0.0, 0), &FitParams::default()).unwrap();
    assert!((exact.law.alpha - 0.38).abs() < 1e-9 && (exact.law.k - 3.0).abs() < 1e-7);
    assert!((exact.r2 - 1.0).abs() < 1e-12);
}

#[test]
fn scaling_trade_and_projection() {
    let law = TransferLaw {
        k: 1.0,
        alpha: 0.38,
        beta: 1.0,
    };
    let m = law.model_for_data(1e6).unwrap();
    assert!((m - 10f64.powf(2.28)).abs() < 1e-9);
    assert!((law.data_for_model(m).unwrap() - 1e6).abs() < 1e-3);
    assert!(law.model_for_data(0.0).is_err());
    assert!(TransferLaw { beta: 0.0, ..law }
        .model_for_data(10.0)
        .is_err());
    let y = archive_year(330e6, 2025.0, 0.2, 1e9).unwrap();
    assert!(y > 2031.0 && y < 2031.2, "{y}");
    assert!(archive_year(330e6, 2025.0, -0.1, 1e9).is_err());
}

#[test]
fn scaling_bad_input_is_a_clear_error() {
    let p = |d_f: f64, n: f64, d_t: f64| TransferPoint { d_f, n, d_t };
    let few = [p(1.0, 1.0, 1.0); 3];
    assert!(matches!(
        fit(&few, &FitParams::default()),
        Err(Error::Empty { .. })
    ));
    // One model size: beta is not identifiable.
    let one_n: Vec<_> = (1..8)
        .map(|i| p(f64::from(i), 10.0, f64::from(i)))
        .collect();
    let err = fit(&one_n, &FitParams::default()).unwrap_err();
    assert!(err.to_string().contains("both vary"), "{err}");
    let mut bad = noisy_points(
        TransferLaw {
            k: 1.0,
            alpha: 0.5,
            beta: 0.5,
        },
        0.0,
        0,
    );
    bad[3].d_t = f64::NAN;
    assert!(matches!(
        fit(&bad, &FitParams::default()),
        Err(Error::InvalidParam { .. })
    ));
    bad[3].d_t = -1.0;
    assert!(fit(&bad, &FitParams::default()).is_err());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.tsv");
    std::fs::write(
        &file,
        "# measured\nN\tD_F\tD_t\tnote\n10\t100\t5\tx\n20\t100\t7\ty\n",
    )
    .unwrap();
    let pts = read_points(&file).unwrap();
    assert_eq!(pts[1], p(100.0, 20.0, 7.0));
    // A `fitted` column drops censored rows.
    std::fs::write(&file, "d_f,n,d_t,fitted\n1,2,3,true\n4,5,NaN,false\n").unwrap();
    assert_eq!(read_points(&file).unwrap(), vec![p(1.0, 2.0, 3.0)]);
    std::fs::write(&file, "d_f,n\n1,2\n").unwrap();
    let err = read_points(&file).unwrap_err();
    assert!(err.to_string().contains("d_t"), "{err}");
    std::fs::write(&file, "d_f,n,d_t\n1,2,x\n").unwrap();
    let err = read_points(&file).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
}
