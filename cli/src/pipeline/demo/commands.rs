//! The command line behind each demo step, parsed through the CLI's own argument structs.

use super::*;

/// The data file and truth of the demo, relative to its report directory (as its commands name
/// them).
pub(super) const DATA: &str = "data/brain.h5ad";
pub(super) const TRUTH: &str = "data/brain.truth.json";

/// A demo step's command line, parsed by the CLI's own argument structs ([`Cli`]), so that a
/// renamed or removed flag fails the demo instead of going stale in its report; with the text
/// the report prints.
///
/// # Errors
/// [`Error::InvalidParam`] with clap's message when the arguments no longer parse.
pub(super) fn step_command(argv: &[&str]) -> Result<(Command, String)> {
    let words: Vec<&str> = std::iter::once("cellsindy")
        .chain(argv.iter().copied())
        .collect();
    let cli = <Cli as clap::Parser>::try_parse_from(&words)
        .map_err(|e| Error::param("demo command", words.join(" "), e.to_string()))?;
    Ok((cli.command, words.join(" ")))
}

pub(super) fn wrong_command(line: &str) -> Error {
    Error::param("demo command", line, "parsed as another subcommand")
}

/// Step 1's config, from its command line through the CLI's own conversion.
pub(super) fn sindy_step(samples: usize, seed: u64) -> Result<(SindyRunConfig, String)> {
    let (samples, seed) = (samples.to_string(), seed.to_string());
    let (cmd, line) = step_command(&[
        "sindy",
        "--system",
        "lorenz",
        "--samples",
        &samples,
        "--seed",
        &seed,
        "--out",
        "sindy",
    ])?;
    match cmd {
        Command::Sindy(a) => Ok((SindyRunConfig::try_from(&a)?, line)),
        _ => Err(wrong_command(&line)),
    }
}

/// Step 2's config (its `out` relative to the report), from its command line.
pub(super) fn synth_step(cells: usize, genes: usize, seed: u64) -> Result<(SynthConfig, String)> {
    let (cells, genes, seed) = (cells.to_string(), genes.to_string(), seed.to_string());
    let (cmd, line) = step_command(&[
        "data", "synth", "--cells", &cells, "--genes", &genes, "--seed", &seed, "--out", DATA,
    ])?;
    match cmd {
        Command::Data(DataCommand::Synth(a)) => Ok((SynthConfig::try_from(&a)?, line)),
        _ => Err(wrong_command(&line)),
    }
}

/// Step 6b's config, from its command line.
pub(super) fn dynamics_step(
    trajectories: usize,
    genie3_trees: usize,
    seed: u64,
) -> Result<(DynamicsRunConfig, String)> {
    let (n, trees, seed) = (
        trajectories.to_string(),
        genie3_trees.to_string(),
        seed.to_string(),
    );
    let (cmd, line) = step_command(&[
        "rules",
        "dynamics",
        "--trajectories",
        &n,
        "--genie3-trees",
        &trees,
        "--seed",
        &seed,
        "--out",
        "rules/dynamics",
    ])?;
    match cmd {
        Command::Rules(RulesCommand::Dynamics(a)) => Ok((
            DynamicsRunConfig::try_from(&a).map_err(|e| Error::param("demo command", &line, e))?,
            line,
        )),
        _ => Err(wrong_command(&line)),
    }
}

#[cfg(test)]
pub(super) mod command_tests {
    use super::*;
    use cellsindy::synthetic::BrainParams;
    use cellsindy::systems::SystemKind;

    /// The configs the demo's steps run are what their printed commands give.
    #[test]
    fn each_steps_command_gives_the_config_it_ran() {
        let (s, line) = sindy_step(30_000, 7).unwrap();
        let mut want = SindyRunConfig::system(SystemKind::Lorenz);
        if let crate::pipeline::sindy::DataSource::System(src) = &mut want.source {
            src.samples = 30_000;
        }
        want.seed = 7;
        assert_eq!(s, want, "{line}");
        let (d, _) = synth_step(500, 20, 7).unwrap();
        let params = BrainParams::default()
            .n_cells(500)
            .n_background_genes(20)
            .seed(7);
        assert_eq!(d.params, params);
        assert!(d.timecourse.is_none());
        let (r, line) = dynamics_step(12, 40, 7).unwrap();
        let mut want = DynamicsRunConfig::new(12, 7);
        want.genie3_trees = 40;
        assert_eq!(r, want, "{line}");
        assert!(step_command(&["train", "--no-such-flag"]).is_err());
    }
}
