//! A custom route on the wslens server library: replies to every text message with its length
//! in bytes, next to the built-in echo.
//!
//!     cargo run -p wslens-server --example length      # then: ws://127.0.0.1:9000/length

use wslens_server::{Ctx, Echo, Handler, Message, Server, ServerConfig};

struct Length;

impl Handler for Length {
    fn on_open(&self, ctx: &mut Ctx<'_>) {
        ctx.send_text("send me text; I answer with its length in bytes");
    }
    fn on_message(&self, ctx: &mut Ctx<'_>, msg: Message<'_>) {
        match msg {
            Message::Text(t) => ctx.send_text(&t.len().to_string()),
            Message::Binary(_) => ctx.close(wslens::CloseCode::UNSUPPORTED_DATA, "text only"),
        }
    }
}

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9000);
    let config = ServerConfig {
        port,
        threads: 1,
        www: None,
        ..ServerConfig::default()
    };
    let server = Server::builder(config)
        .route("/length", Length)
        .route("/echo", Echo)
        .build()?;
    println!("listening on ws://{}/length", server.local_addr()?);
    server.run()
}
