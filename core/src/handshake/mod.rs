//! TEMPORARY stub, replaced by the real handshake module.
#![allow(missing_docs, dead_code, unused_variables)]
use alloc::string::String;
use alloc::vec::Vec;
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;
pub enum Status<T> {
    Partial,
    Complete(T, usize),
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeError {
    pub status: u16,
    pub reason: &'static str,
    pub offset: Option<usize>,
}
impl HandshakeError {
    pub fn response(&self) -> Vec<u8> {
        Vec::new()
    }
}
impl core::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.reason)
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub key: String,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
}
pub struct RequestParser;
impl RequestParser {
    pub fn with_max_header_bytes(n: usize) -> Self {
        RequestParser
    }
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<Request>, HandshakeError> {
        Ok(Status::Partial)
    }
}
pub struct AcceptOptions<'a> {
    pub protocol: Option<&'a str>,
}
pub fn accept_response(req: &Request, opts: &AcceptOptions) -> Vec<u8> {
    Vec::new()
}
pub fn reject_response(status: u16, body: &str) -> Vec<u8> {
    Vec::new()
}
pub struct ClientRequest<'a> {
    pub host: &'a str,
}
pub struct ClientHandshake;
impl ClientHandshake {
    pub fn new(r: &ClientRequest) -> (Self, Vec<u8>) {
        (ClientHandshake, Vec::new())
    }
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Status<Response>, HandshakeError> {
        Ok(Status::Partial)
    }
}
