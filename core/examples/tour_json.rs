//! Prints the guided tour's session ([`wslens::inspect::record_tour`]) as JSON, for the page:
//! `build_page` (scripts/wasm.sh) writes it to `www/pkg/tour.json` at build time, so the
//! inspector's wasm module does not carry the compressor the recording needs.
//!
//! Each step: `{"id", "from": "client"|"server", "hex", "focus": [start, end] | null,
//! "streamOffset": n | null}` (see [`wslens::inspect::TourStep`]).
//!
//!     cargo run -q -p wslens --example tour_json > www/pkg/tour.json

use std::fmt::Write as _;
use wslens::inspect::record_tour;
use wslens::Role;

fn main() {
    let mut out = String::from("[\n");
    let steps = record_tour();
    for (i, s) in steps.iter().enumerate() {
        let hex: String = s.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let from = match s.from {
            Role::Client => "client",
            Role::Server => "server",
        };
        let focus = s
            .focus
            .as_ref()
            .map_or("null".to_owned(), |r| format!("[{}, {}]", r.start, r.end));
        let offset = s.stream_offset.map_or("null".to_owned(), |o| o.to_string());
        let comma = if i + 1 < steps.len() { "," } else { "" };
        // `id` is one of the fixed ASCII names documented on TourStep: no escaping needed.
        let _ = writeln!(
            out,
            "  {{\"id\": \"{}\", \"from\": \"{from}\", \"hex\": \"{hex}\", \"focus\": {focus}, \"streamOffset\": {offset}}}{comma}",
            s.id
        );
    }
    out.push_str("]\n");
    print!("{out}");
}
