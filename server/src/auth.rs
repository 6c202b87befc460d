//! Who may open a WebSocket: a small trait so embedders can plug in their own check. The
//! built-in [`OriginAndToken`] implements `--allow-origin` and `--token`.

use wslens::handshake::Request;

/// Why a handshake was refused: the HTTP status and a one-line reason (sent as the body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status, e.g. 401 or 403.
    pub status: u16,
    /// What was wrong.
    pub reason: String,
}

impl Rejection {
    /// A rejection with `status` and `reason`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Rejection {
            status,
            reason: reason.into(),
        }
    }
}

/// Decides, after the core has validated the upgrade request (RFC 6455 §4.2.1), whether it may
/// open a WebSocket.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok(())` to accept, or the HTTP rejection to send.
    fn authorize(&self, request: &Request) -> Result<(), Rejection>;
}

/// The built-in check: the `Origin` must be in the allow-list (if one is given; 403
/// otherwise) and the token must match `?token=` or `Authorization: Bearer` (if one is given;
/// 401 otherwise).
#[derive(Clone, Debug, Default)]
pub struct OriginAndToken {
    /// Allowed origins; empty allows any.
    pub origins: Vec<String>,
    /// The required token, if any.
    pub token: Option<String>,
}

impl Authorizer for OriginAndToken {
    fn authorize(&self, req: &Request) -> Result<(), Rejection> {
        let origin_ok = self.origins.is_empty()
            || req
                .origin
                .as_deref()
                .is_some_and(|o| self.origins.iter().any(|a| a == o));
        if !origin_ok {
            return Err(Rejection::new(403, "origin not allowed"));
        }
        let token_ok = self.token.as_deref().is_none_or(|t| {
            req.query_param("token").as_deref() == Some(t) || req.bearer_token() == Some(t)
        });
        if !token_ok {
            return Err(Rejection::new(
                401,
                "a valid token is required (?token= or Authorization: Bearer)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wslens::handshake::{RequestParser, Status};

    fn request(extra: &str, target: &str) -> Request {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        match RequestParser::new().parse(raw.as_bytes()) {
            Ok(Status::Complete(r, _)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn origin_and_token_rules() {
        let open = OriginAndToken::default();
        assert_eq!(open.authorize(&request("", "/")), Ok(()));
        let strict = OriginAndToken {
            origins: vec!["https://a.example".into()],
            token: Some("t0k".into()),
        };
        assert_eq!(
            strict
                .authorize(&request("Origin: https://b.example\r\n", "/?token=t0k"))
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            strict
                .authorize(&request("", "/?token=t0k"))
                .unwrap_err()
                .status,
            403,
            "no Origin at all"
        );
        assert_eq!(
            strict
                .authorize(&request("Origin: https://a.example\r\n", "/"))
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            strict.authorize(&request("Origin: https://a.example\r\n", "/?token=t0k")),
            Ok(())
        );
        let bearer = "Origin: https://a.example\r\nAuthorization: Bearer t0k\r\n";
        assert_eq!(strict.authorize(&request(bearer, "/")), Ok(()));
    }
}
