//! Plain HTTP on the WebSocket port: static files from the `www` directory, `/metrics`,
//! `/healthz`. One request per connection (`Connection: close`).

use std::path::{Component, Path, PathBuf};

/// An HTTP response, ready to write.
pub fn response(status: u16, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    response_with(status, content_type, "", body, head_only)
}

/// [`response`] with more header lines (`extra`: each ending in CRLF).
fn response_with(
    status: u16,
    content_type: &str,
    extra: &str,
    body: &[u8],
    head_only: bool,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        wslens::handshake::reason_phrase(status),
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

/// A plain-text response saying what went wrong.
pub fn text(status: u16, body: &str, head_only: bool) -> Vec<u8> {
    response(
        status,
        "text/plain; charset=utf-8",
        body.as_bytes(),
        head_only,
    )
}

/// The MIME type for a file name (by extension); `application/wasm` for WebAssembly.
pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "txt" | "md" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file under `root`, refusing anything that could leave it:
/// `..` components, absolute or drive-prefixed segments, backslashes and NUL bytes (after
/// percent-decoding). `/` and directories map to `index.html`.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = wslens::handshake::headers::percent_decode(url_path);
    if decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match Path::new(segment).components().next() {
            None => continue,
            Some(Component::Normal(s)) if Path::new(segment).components().count() == 1 => {
                path.push(s)
            }
            Some(Component::CurDir) => continue,
            _ => return None,
        }
    }
    if path.is_dir() {
        path.push("index.html");
    }
    Some(path)
}

/// Serves `url_path` from `root`: 200 with the file, or 404.
pub fn static_file(root: &Path, url_path: &str, head_only: bool) -> (u16, Vec<u8>) {
    static_file_for(root, url_path, head_only, None)
}

/// [`static_file`] for a client that sent `accept_encoding`: a file with a precompressed
/// sibling (`name.gz`, as new as the file or newer) goes out gzip-encoded to a client that
/// accepts gzip (RFC 9110 §8.4, §12.5.3), with `Vary: Accept-Encoding` either way.
pub fn static_file_for(
    root: &Path,
    url_path: &str,
    head_only: bool,
    accept_encoding: Option<&str>,
) -> (u16, Vec<u8>) {
    let Some(path) = resolve(root, url_path) else {
        return (404, text(404, "not found\n", head_only));
    };
    let gz = gzip_sibling(&path);
    let vary = if gz.is_some() {
        "Vary: Accept-Encoding\r\n"
    } else {
        ""
    };
    if let Some(gz) = gz.filter(|_| accept_encoding.is_some_and(accepts_gzip)) {
        if let Ok(body) = std::fs::read(gz) {
            let extra = format!("Content-Encoding: gzip\r\n{vary}");
            return (
                200,
                response_with(200, mime_type(&path), &extra, &body, head_only),
            );
        }
    }
    match std::fs::read(&path) {
        Ok(body) => (
            200,
            response_with(200, mime_type(&path), vary, &body, head_only),
        ),
        Err(_) => (404, text(404, "not found\n", head_only)),
    }
}

/// `path.gz`, if it exists and is not older than `path` (a stale one is never served).
fn gzip_sibling(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".gz");
    let gz = path.with_file_name(name);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let (Some(original), Some(compressed)) = (modified(path), modified(&gz)) else {
        return None;
    };
    (compressed >= original).then_some(gz)
}

/// Whether an `Accept-Encoding` value accepts gzip: `gzip` (or `x-gzip`, or `*`) listed
/// without `q=0` (RFC 9110 §12.5.3).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let named = ["gzip", "x-gzip", "*"]
            .iter()
            .any(|c| coding.eq_ignore_ascii_case(c));
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q")
                    && v.trim().parse::<f32>().is_ok_and(|q| q == 0.0)
            })
        });
        named && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_lists() {
        for yes in [
            "gzip",
            "gzip, deflate, br",
            "br;q=1.0, GZIP;q=0.5",
            "*",
            "x-gzip",
        ] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in ["", "identity", "br", "gzip;q=0", "gzip; q=0.0, br", "gzipx"] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }

    #[test]
    fn precompressed_files_go_out_gzip_encoded_to_who_accepts_it() {
        let root = std::env::temp_dir().join(format!("wslens-gz-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("m.wasm"), b"plain bytes").unwrap();
        std::fs::write(root.join("m.wasm.gz"), b"gzip bytes").unwrap();
        std::fs::write(root.join("only.txt"), b"x").unwrap();
        let text = |r: (u16, Vec<u8>)| String::from_utf8(r.1).unwrap();
        let gz = text(static_file_for(&root, "/m.wasm", false, Some("gzip, br")));
        assert!(gz.contains("Content-Encoding: gzip\r\n") && gz.ends_with("\r\n\r\ngzip bytes"));
        assert!(
            gz.contains("Content-Type: application/wasm\r\n")
                && gz.contains("Vary: Accept-Encoding")
        );
        let plain = text(static_file_for(&root, "/m.wasm", false, Some("br")));
        assert!(!plain.contains("Content-Encoding") && plain.ends_with("plain bytes"));
        assert!(
            plain.contains("Vary: Accept-Encoding"),
            "caches must know it varies"
        );
        let none = text(static_file_for(&root, "/only.txt", false, Some("gzip")));
        assert!(!none.contains("Content-Encoding") && !none.contains("Vary"));
        // A .gz older than its file is stale: never served.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(root.join("m.wasm"), b"newer bytes").unwrap();
        let fresh = text(static_file_for(&root, "/m.wasm", false, Some("gzip")));
        assert!(!fresh.contains("Content-Encoding") && fresh.ends_with("newer bytes"));
    }

    #[test]
    fn mime_types() {
        assert_eq!(
            mime_type(Path::new("a/wslens_wasm_bg.wasm")),
            "application/wasm"
        );
        assert_eq!(
            mime_type(Path::new("index.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            mime_type(Path::new("app.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(mime_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn no_path_traversal() {
        let root = std::env::temp_dir().join(format!("wslens-www-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/sub/a.txt"), Some(root.join("sub/a.txt")));
        assert_eq!(
            resolve(&root, "/./sub//a.txt"),
            Some(root.join("sub/a.txt"))
        );
        for evil in [
            "/../etc/passwd",
            "/sub/../../x",
            "/%2e%2e/x",
            "/..%2fx",
            "/a%5c..%5cb",
            "/x%00",
            "/C:/x",
        ] {
            let got = resolve(&root, evil);
            assert!(
                got.as_ref()
                    .is_none_or(|p| p.starts_with(&root) && !p.to_string_lossy().contains("..")),
                "{evil} -> {got:?}"
            );
        }
        let (status, body) = static_file(&root, "/sub/a.txt", false);
        assert_eq!(status, 200);
        assert!(body.ends_with(b"\r\n\r\na"));
        assert_eq!(static_file(&root, "/missing", false).0, 404);
        assert_eq!(static_file(&root, "/../index.html", false).0, 404);
        let (_, head) = static_file(&root, "/", true);
        assert!(head.ends_with(b"\r\n\r\n"), "HEAD has no body");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
