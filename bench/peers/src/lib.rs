//! Shared by the peer echo servers: the port from the first argument.

/// `127.0.0.1:<port>` from argv[1] (default 9100).
pub fn addr() -> String {
    let port = std::env::args().nth(1).unwrap_or_else(|| "9100".into());
    format!("127.0.0.1:{port}")
}
