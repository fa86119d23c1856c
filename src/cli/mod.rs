//! The command line: raw arguments become validated settings here, then the
//! library does the work. A command is one file of this folder, with its
//! clap argument struct (whose doc comment is the command's help) and its
//! `run`, and one line in `commands!` below.
use anyhow::Result;
use clap::Parser;

/// Declares the command modules, the `Command` enum (one variant per
/// command, named after its argument struct's module) and its dispatch.
macro_rules! commands {
    ($($variant:ident($module:ident::$args:ident),)*) => {
        $(mod $module;)*

        #[derive(clap::Subcommand, Debug)]
        pub enum Command {
            $($variant($module::$args),)*
        }

        impl Command {
            /// Runs the command.
            fn run(self) -> Result<()> {
                match self {
                    $(Command::$variant(args) => $module::run(args),)*
                }
            }
        }
    };
}

commands! {
    Run(run::RunArgs),
    Plan(plan::PlanArgs),
    Submit(submit::SubmitArgs),
    Report(report::ReportArgs),
    Compare(compare::CompareArgs),
    Status(status::StatusArgs),
    Eval(eval::EvalArgs),
    Score(score::ScoreArgs),
    Ood(ood::OodArgs),
    Sample(sample::SampleArgs),
    Export(export::ExportArgs),
    Orderings(orderings::OrderingsArgs),
    Inspect(inspect::InspectArgs),
    ReceptiveField(receptive_field::ReceptiveFieldArgs),
    Bench(bench::BenchArgs),
    Doctor(doctor::DoctorArgs),
}

#[derive(Parser, Debug)]
#[command(
    name = "arlab",
    version,
    about = "Train and compare autoregressive image density models under pixel orderings"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Parses the arguments and runs the command.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(matches!(&cli.command, Command::Run(args) if args.quiet));
    cli.command.run()
}

fn init_logging(quiet: bool) {
    let level = if quiet {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_level(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// `run_dir`, checked to be a run directory (it has a spec.yaml).
fn check_run_dir(run_dir: &std::path::Path) -> Result<crate::results::RunDir> {
    crate::results::run::open_run_dir(run_dir)
}

/// `KEY (N values), …` of a plan's sweep axes.
fn describe_axes(plan: &crate::sweep::Plan) -> Vec<String> {
    plan.axes
        .iter()
        .map(|a| format!("{} ({} values)", a.key, a.values.len()))
        .collect()
}
