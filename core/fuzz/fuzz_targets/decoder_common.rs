// Shared by the decoder targets: the first input byte picks a chunk size, the rest is the
// stream. Properties checked: no panic, and feeding in chunks gives exactly the same events,
// error and reply bytes as feeding the whole stream at once.
use wslens::{Config, Connection, OwnedEvent, Role};

fn config() -> Config {
    Config { max_frame_size: 1 << 20, max_message_size: 1 << 20, ..Config::default() }
}

fn run(role: Role, stream: &[u8], chunk: usize) -> (Vec<OwnedEvent>, Option<wslens::Error>, Vec<u8>) {
    let cfg = config();
    let mut conn = match role {
        Role::Server => Connection::accepted(cfg),
        Role::Client => Connection::connected(cfg, || [1, 2, 3, 4]),
    };
    let mut events = Vec::new();
    let mut error = None;
    for piece in stream.chunks(chunk.max(1)) {
        if let Err(e) = conn.receive(piece, &mut events) {
            error = Some(e);
            break;
        }
    }
    (events, error, conn.take_output())
}

pub fn check(role: Role, data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else { return };
    let whole = run(role, stream, stream.len());
    let chunked = run(role, stream, usize::from(first % 17) + 1);
    assert_eq!(whole, chunked);
    // The inspector sees the same thing through the same path.
    let ins = wslens::inspect::inspect_frames_with(stream, role, config());
    assert_eq!(ins.events, whole.0);
}
