//! `cellsindy`: the command-line front end. Glue only: arguments are parsed here (clap) and
//! converted into `cellsindy::pipeline` configs; the work happens in the library.

mod args;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match run(args::Cli::parse()) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {:#}", err);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Command::Sindy(a) => cmd::sindy::run(&a),
        args::Command::Data(d) => cmd::data::run(&d),
    }
}

/// A closed stdout (`cellsindy ... | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
