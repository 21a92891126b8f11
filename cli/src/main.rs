//! `cellsindy`: the command-line front end. Glue only: arguments are parsed here (clap) and
//! converted into `cellsindy_cli::pipeline` configs; the work happens in the library.

use cellsindy_cli::args;
mod cmd;

/// mimalloc: candle allocates a fresh buffer for every tensor op; glibc's malloc returns large
/// blocks to the kernel and faults them back in, which cost ≈ 30 % of a training step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    inline_candle_elementwise_ops();
    match run(args::Cli::parse_from(rules_alias(
        std::env::args_os().collect(),
    ))) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Messages quote names from users' files: control characters are escaped.
            eprintln!(
                "error: {}",
                cellsindy::escape::terminal_text(&format!("{err:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Command::Sindy(a) => cmd::sindy::run(&a),
        args::Command::Data(d) => cmd::data::run(&d),
        args::Command::Demo(a) => cmd::demo::run(&a),
        args::Command::Train(a) => cmd::transformer::run_train(&a),
        args::Command::Impute(a) => cmd::transformer::run_impute(&a),
        args::Command::Generate(a) => cmd::transformer::run_generate(&a),
        args::Command::Activations(a) => cmd::transformer::run_activations(&a),
        args::Command::Evaluate(a) => cmd::transformer::run_evaluate(&a),
        args::Command::Rules(r) => cmd::rules::run(&r),
        args::Command::Probe(a) => cmd::probe::run(&a),
        args::Command::Scaling(s) => cmd::scaling::run(&s),
    }
}

/// Keeps candle's CPU elementwise ops on the calling thread (`CANDLE_NUM_THREADS=1` unless
/// the user set it). candle 0.11 runs large elementwise ops (in training mostly its backward
/// pass's `zeros + grad` accumulations) on its own spinning thread pool, one more set of
/// threads competing with rayon (which runs the model's fused kernels) for the cores: on a busy
/// 2-core machine the reference training went from ≈ 11,000 to 16,000 tokens/s with them
/// inline, and on an idle one it makes no difference. Set here, at the start of `main` while
/// the process has one thread, because changing the environment is only sound then (so the
/// library never does it).
fn inline_candle_elementwise_ops() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// `cellsindy rules --model ...` (a flag right after `rules`, the form issue 6 wrote) is
/// `cellsindy rules distill --model ...`. Done on the argument list because clap 4.6 left an
/// optional flattened argument group beside the route subcommands empty (`None`) even with its
/// flags given; `rules --help` still lists the routes.
fn rules_alias(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let is_flag = |a: &std::ffi::OsString| {
        a.to_str()
            .is_some_and(|s| s.starts_with("--") && s != "--help")
    };
    if args.get(1).is_some_and(|a| a == "rules") && args.get(2).is_some_and(is_flag) {
        args.insert(2, "distill".into());
    }
    args
}

/// A closed stdout (`cellsindy ... | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
