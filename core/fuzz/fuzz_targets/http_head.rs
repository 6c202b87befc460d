#![no_main]
//! The HTTP head, byte by byte: the scanner, the parser (request line and headers), the
//! request-target and Host rules, and the inspector's one-parse view. Properties: no panic;
//! the scanner finds the same end however the bytes are delivered; a target that parses has
//! a path starting with `/`; the inspector refuses exactly what the server's parser refuses.
use libfuzzer_sys::fuzz_target;
use wslens::handshake::{Head, HeadScanner, RequestParser, Status};

fn scan(data: &[u8], chunk: usize) -> Result<Option<usize>, u16> {
    let mut scanner = HeadScanner::new(4096);
    let mut end = Ok(None);
    for n in (chunk..=data.len()).step_by(chunk).chain([data.len()]) {
        end = scanner.scan(&data[..n]).map_err(|e| e.status);
        if !matches!(end, Ok(None)) {
            break;
        }
    }
    end
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else { return };
    let whole = scan(data, data.len().max(1));
    assert_eq!(whole, scan(data, usize::from(first % 13) + 1));
    let Ok(Some(end)) = whole else { return };
    if let Ok(head) = Head::parse(&data[..end]) {
        if let Ok(target) = head.request_target() {
            assert!(target.path.starts_with('/'));
            assert_eq!(head.path(), target.path);
        }
        let _ = head.host();
    }
    let server = match RequestParser::new().parse(data) {
        Ok(Status::Complete(req, used)) => {
            assert_eq!(used, end);
            Ok(req)
        }
        Ok(Status::Partial) => unreachable!("the head is complete"),
        Err(e) => Err(e),
    };
    if !data.starts_with(b"HTTP/") {
        let ins = wslens::inspect::inspect_handshake(data);
        match server {
            Ok(req) => assert_eq!((ins.request, ins.error), (Some(req), None)),
            Err(e) => assert_eq!(ins.error, Some(e)),
        }
    }
});
