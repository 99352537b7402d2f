//! The `pypack` command: argument parsing and output only; the work is in the library.

mod cli;

fn main() {
    if let Err(error) = cli::run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
