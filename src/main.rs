//! The `pypack` command: argument parsing and output only; the work is in the library.

mod cli;

fn main() {
    // With PYPACK_TIMINGS set, the clock starts with the process.
    pypack::mark("started");
    if let Err(error) = cli::run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
