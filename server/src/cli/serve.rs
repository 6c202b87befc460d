//! `wslens serve`: the server's flags made into a [`ServerConfig`], the development
//! certificate, and the run until SIGINT/SIGTERM.

use super::args::ServeArgs;
use crate::{Server, ServerConfig};
use std::path::PathBuf;
use std::time::Duration;

impl ServeArgs {
    /// The TLS listener, if asked for; with `--tls-self-signed`, makes the certificate,
    /// writes its PEM and prints where, with the fingerprint.
    fn tls(&self) -> Result<(Option<crate::TlsListen>, Option<DevCert>), String> {
        use crate::tls;
        let mut dev_cert = None;
        let config = match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => tls::server_config_from_pem(cert, key)?,
            (_, _, true) => {
                let dev = tls::self_signed()?;
                dev_cert = Some(DevCert {
                    pem: dev.cert_pem,
                    fingerprint: dev.fingerprint,
                    out: self.tls_cert_out.clone(),
                });
                dev.config
            }
            _ if self.tls_only => {
                return Err(
                    "--tls-only needs --tls-cert and --tls-key, or --tls-self-signed".into(),
                )
            }
            _ => return Ok((None, None)),
        };
        let listen = crate::TlsListen {
            port: self.tls_port,
            config,
        };
        Ok((Some(listen), dev_cert))
    }

    fn config(self) -> Result<(ServerConfig, Option<DevCert>), String> {
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        let defaults = ServerConfig::default();
        let (tls, dev_cert) = self.tls()?;
        if tls.is_some() && !self.tls_only && self.tls_port == self.port && self.port != 0 {
            return Err(format!(
                "--tls-port {} is also the plain --port: pick another, or --tls-only",
                self.port
            ));
        }
        let config = ServerConfig {
            host: self.host,
            port: self.port,
            plain: !self.tls_only,
            tls,
            threads: self.threads.unwrap_or(defaults.threads).max(1),
            www: Some(self.www),
            max_backpressure: self.max_backpressure,
            drop_on_backpressure: self.drop_on_backpressure,
            ping_interval: nonzero(self.ping_interval),
            ping_timeout: self.ping_timeout,
            idle_timeout: nonzero(self.idle_timeout),
            handshake_timeout: self.handshake_timeout,
            shutdown_timeout: self.shutdown_timeout,
            drain_timeout: self.drain_timeout,
            reuse_port: self.reuse_port,
            allow_origins: self.allow_origin,
            token: self.token,
            max_message: self.max_message,
            max_frame: self.max_frame,
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            ip_limits: crate::IpLimitConfig {
                max_connections: self.max_connections_per_ip,
                handshakes_per_second: self.handshakes_per_ip_per_second,
                limit_loopback: self.limit_loopback,
            },
            max_messages_per_second: self.max_messages_per_second,
            drop_over_rate: self.drop_over_rate,
            deflate: (!self.no_deflate).then_some(wslens::deflate::DeflateConfig {
                server_no_context_takeover: !self.deflate_context_takeover,
                client_no_context_takeover: self.deflate_no_context_takeover,
                server_max_window_bits: self.deflate_window_bits,
                client_max_window_bits: self.deflate_window_bits,
                level: self.deflate_level,
                mem_level: self.deflate_mem_level,
            }),
            tap_transcripts: crate::tap::TranscriptLimits {
                bytes: self.tap_transcript_bytes,
                ttl: self.tap_transcript_ttl,
                sessions: self.tap_sessions,
            },
            backplane: self.backplane.clone().map(|url| crate::BackplaneConfig {
                prefix: self.backplane_prefix.clone(),
                queue_bytes: self.backplane_queue,
                timeout: self.backplane_timeout,
                history: self.history,
                ..crate::BackplaneConfig::new(url)
            }),
            ..defaults
        };
        Ok((config, dev_cert))
    }
}

/// SIGHUP: reads `--tls-cert` and `--tls-key` again; new handshakes use them, open
/// connections keep theirs. A file that does not load leaves the old certificate in place.
fn reload_tls(files: Option<&(PathBuf, PathBuf)>, reloader: Option<&crate::TlsReloader>) {
    let (Some((cert, key)), Some(reloader)) = (files, reloader) else {
        tracing::warn!("SIGHUP: nothing to reload (no --tls-cert and --tls-key)");
        return;
    };
    match crate::tls::server_config_from_pem(cert, key) {
        Ok(config) => {
            reloader.reload(config);
            tracing::info!(cert = %cert.display(), "SIGHUP: TLS certificate and key reloaded");
        }
        Err(e) => {
            tracing::warn!(error = %e, "SIGHUP: TLS reload failed; keeping the old certificate")
        }
    }
}

/// The `--tls-self-signed` certificate, written (and announced) once the listeners are
/// bound, so that a server that fails to start leaves a running one's file alone.
struct DevCert {
    pem: String,
    fingerprint: String,
    out: Option<PathBuf>,
}

impl DevCert {
    fn publish(self, tls_port: u16) -> Result<(), String> {
        let path = self.out.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("wslens-dev-cert-{tls_port}.pem"))
        });
        std::fs::write(&path, &self.pem)
            .map_err(|e| format!("writing the certificate to {}: {e}", path.display()))?;
        println!(
            "TLS: self-signed development certificate for {}\n  SHA-256 fingerprint: {}\n  certificate (PEM, for clients' --ca): {}",
            crate::tls::SELF_SIGNED_NAMES.join(", "),
            self.fingerprint,
            path.display()
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        Ok(())
    }
}

/// `wslens serve`.
pub(crate) fn serve(args: ServeArgs) -> Result<(), String> {
    let tls_files = args.tls_cert.clone().zip(args.tls_key.clone());
    let (config, dev_cert) = args.config()?;
    let server = Server::builder(config)
        .standard_routes()
        .build()
        .map_err(|e| e.to_string())?;
    if let (Some(dev), Some(addr)) = (dev_cert, server.tls_local_addr()) {
        dev.publish(addr.port())?;
    }
    let handle = server.shutdown_handle();
    super::on_termination(move || handle.shutdown()).map_err(|e| e.to_string())?;
    let reloader = server.tls_reloader();
    super::on_hangup(move || reload_tls(tls_files.as_ref(), reloader.as_ref()))
        .map_err(|e| e.to_string())?;
    server.run().map_err(|e| e.to_string())
}
