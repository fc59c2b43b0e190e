//! The `gomirror` command: a thin shell over the `gomirror` library.

fn main() -> std::process::ExitCode {
    gomirror::cli::main()
}
