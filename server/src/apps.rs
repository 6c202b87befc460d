//! The built-in routes: echo and rooms (chat and broadcast), written as ordinary handlers.

use crate::handler::{Ctx, Handler, Message};
use wslens::CloseCode;

/// `/echo`: sends every message back as it came.
#[derive(Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    fn protocols(&self) -> &[&'static str] {
        &[crate::WIRE_PROTOCOL]
    }
    fn on_message(&self, ctx: &mut Ctx<'_>, msg: Message<'_>) {
        ctx.send(msg);
    }
}

/// `/chat/<room>` and `/broadcast`: every message goes to everyone in the room (the sender
/// included). With `notices`, joins and leaves are announced as JSON text messages:
/// `{"event":"join","id":7,"room":"lobby"}`.
#[derive(Debug)]
pub struct Rooms {
    /// A fixed room for every connection (`/broadcast`), or `None` for the route parameter.
    pub fixed_room: Option<&'static str>,
    /// Announce joins and leaves.
    pub notices: bool,
}

impl Rooms {
    /// `/chat/<room>`: the room is the rest of the path; joins and leaves are announced.
    pub fn chat() -> Self {
        Rooms {
            fixed_room: None,
            notices: true,
        }
    }

    /// `/broadcast`: one global room, no notices.
    pub fn broadcast() -> Self {
        Rooms {
            fixed_room: Some("broadcast"),
            notices: false,
        }
    }

    fn room<'c>(&self, ctx: &'c Ctx<'_>) -> std::borrow::Cow<'c, str> {
        match self.fixed_room {
            Some(r) => r.into(),
            None if ctx.info().param.is_empty() => "lobby".into(),
            None => (*ctx.info().param).into(),
        }
    }

    fn notice(&self, ctx: &mut Ctx<'_>, event: &str) {
        if self.notices {
            let room = self.room(ctx).into_owned();
            let json = format!(
                r#"{{"event":"{event}","id":{},"room":{}}}"#,
                ctx.info().id,
                json_string(&room)
            );
            ctx.publish(&room, Message::Text(&json), false);
        }
    }
}

impl Handler for Rooms {
    fn protocols(&self) -> &[&'static str] {
        // With `--history`: every message stamped with its offset and epoch.
        &[crate::OFFSETS_PROTOCOL]
    }
    fn on_open(&self, ctx: &mut Ctx<'_>) {
        let room = self.room(ctx).into_owned();
        ctx.join(&room);
        self.notice(ctx, "join");
    }
    fn on_message(&self, ctx: &mut Ctx<'_>, msg: Message<'_>) {
        let room = self.room(ctx).into_owned();
        ctx.publish(&room, msg, false);
    }
    fn on_close(&self, ctx: &mut Ctx<'_>, _code: CloseCode) {
        self.notice(ctx, "leave");
    }
}

/// A JSON string literal for `s` (the room notices and the wire tap's errors are the
/// library's only JSON with free text in it; the CLI writes its JSON with `serde_json`).
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
