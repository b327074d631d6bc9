//! The `splitbench` binary: the command line of [`cli`], on top of the `splitbench`
//! library. Everything a subcommand does lives in the library; `cli` only parses, calls and
//! prints.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
