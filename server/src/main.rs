//! `wslens`: the server (`wslens serve`) and, in the same binary, the command-line client.

fn main() {
    wslens_server::cli::main()
}
