//! # wslens — a see-through, sans-IO WebSocket protocol core
//!
//! RFC 6455 written from the ground up as a state machine: feed it bytes, get back typed
//! events and bytes to send. No sockets, no clocks, no threads and no OS randomness: the
//! caller owns I/O, time and masking-key randomness. The same code drives the native
//! server, the command-line client, the fuzzers and the browser inspector (through wasm).
//!
//! Layers, bottom-up (each module has one job):
//!
//! | module | job | RFC 6455 |
//! |---|---|---|
//! | [`frame`] | opcodes and the frame header codec | §5.2 |
//! | [`mask`] | in-place XOR masking that can resume at any offset | §5.3 |
//! | [`utf8`] | incremental, fail-fast UTF-8 validation | §5.6, §8.1 |
//! | [`close`] | close codes and close-frame payloads | §5.5.1, §7.4 |
//! | [`trace`] | the byte-level trace hooks (compiled out when unused) | — |
//! | [`decoder`] | the streaming frame decoder | §5.2-§5.5 |
//! | [`connection`] | message assembly and the connection state machine | §4-§7 |
//! | [`handshake`] | the HTTP/1.1 opening handshake, server and client side | §4, §1.3 |
//! | [`deflate`] | permessage-deflate: negotiation, compression (feature `deflate`) | RFC 7692 |
//! | [`inspect`] | the annotated trace of a byte buffer, for people (feature `alloc`) | — |
//!
//! `#![no_std]` + `alloc`; the `std` feature (on by default) only adds `std::error::Error`
//! impls and runtime SIMD detection (UTF-8 validation, and AVX2 unmasking on x86).
//!
//! `unsafe` is denied everywhere but in one audited place: the call of the AVX2 unmasking
//! loop in [`mask`], made only after the CPU was seen to support AVX2.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
pub mod connection;
pub mod decoder;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod inspect;
pub mod mask;
pub mod trace;
pub mod utf8;

pub use close::CloseCode;
pub use connection::{Config, Connection, Event, OwnedEvent, Role, Sender, State};
pub use decoder::{Decoded, FrameDecoder};
pub use error::{Error, ProtocolError};
pub use frame::{FrameHeader, OpCode};
