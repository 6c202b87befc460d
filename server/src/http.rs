//! Plain HTTP on the WebSocket port: static files from the `www` directory, `/metrics`,
//! `/healthz`. One request per connection (`Connection: close`).

use std::path::{Component, Path, PathBuf};

/// An HTTP response, ready to write.
pub fn response(status: u16, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
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
    match resolve(root, url_path).and_then(|p| std::fs::read(&p).ok().map(|body| (p, body))) {
        Some((p, body)) => (200, response(200, mime_type(&p), &body, head_only)),
        None => (404, text(404, "not found\n", head_only)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
