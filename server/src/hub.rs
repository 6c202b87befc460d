//! Rooms across event loops. A published frame is encoded once; its bytes (`Arc<[u8]>`) are
//! shared by every receiver's output queue. Receivers on other loops get it through their
//! loop's inbox and a `notify()` that wakes its `wait`.

use crate::backplane::{Backplane, Offset};
use crate::poll::Poller;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A connection in a room: which loop holds it, its slab key there, and its id (keys are
/// reused; the id tells a stale member from a new connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) loop_id: usize,
    pub(crate) key: usize,
    pub(crate) id: u64,
    /// With `--history`: gets the room's messages in stream order, with offsets, through
    /// Redis (it asked for `wslens.offsets`, or resumes with `?since=`).
    pub(crate) stream: bool,
    /// Each message is stamped `<offset> <epoch>\n` (subprotocol `wslens.offsets`).
    pub(crate) stamped: bool,
}

/// Work sent to a loop from another thread.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// Queue `frame` on these connections (key, id).
    Deliver {
        frame: Arc<[u8]>,
        to: Vec<(usize, u64)>,
    },
    /// Queue a room's stream message on these connections, once each and in offset order.
    DeliverStream {
        room: Arc<str>,
        offset: Offset,
        frame: Arc<[u8]>,
        to: Vec<(usize, u64)>,
    },
    /// A resuming member's missed messages (after `notice`), then what waited behind them.
    Resumed(Handover),
}

/// What a stream member that resumes (or joined afresh) is handed once its room's history
/// has been read.
#[derive(Debug)]
pub(crate) struct Handover {
    pub(crate) key: usize,
    pub(crate) id: u64,
    pub(crate) room: Box<str>,
    pub(crate) notice: Option<Arc<[u8]>>,
    /// Nothing at or before this offset is for the member (its join came after it).
    pub(crate) after: Offset,
    pub(crate) frames: Vec<(Offset, Arc<[u8]>)>,
}

/// One event loop as other threads see it.
#[derive(Debug)]
pub(crate) struct LoopHandle {
    pub(crate) poller: Arc<Poller>,
    pub(crate) inbox: Mutex<Vec<Cmd>>,
}

/// Locks a mutex, recovering the data if another thread panicked while holding it (the data
/// here — member lists, inboxes — stays consistent across any single operation).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A room's members, with an index by connection id so that joining and leaving cost O(1)
/// (a room of 10,000 emptying itself must not cost 10,000²/2 comparisons).
#[derive(Debug, Default)]
struct Room {
    members: Vec<Member>,
    /// Connection id → position in `members`.
    index: HashMap<u64, usize>,
}

/// The room registry.
#[derive(Debug)]
pub(crate) struct Hub {
    rooms: Mutex<HashMap<String, Room>>,
    pub(crate) loops: Vec<LoopHandle>,
    /// Rooms shared with other processes over Redis (`--backplane`).
    pub(crate) backplane: Option<Arc<Backplane>>,
}

impl Hub {
    pub(crate) fn new(loops: Vec<LoopHandle>, backplane: Option<Arc<Backplane>>) -> Self {
        Hub {
            rooms: Mutex::new(HashMap::new()),
            loops,
            backplane,
        }
    }

    pub(crate) fn join(&self, room: &str, member: Member) {
        let mut rooms = lock(&self.rooms);
        let first = !rooms.contains_key(room);
        if first {
            // Under the lock, so that subscriptions change in the order rooms do.
            if let Some(bp) = &self.backplane {
                bp.subscribe(room);
            }
        }
        let room = rooms.entry(room.to_owned()).or_default();
        if let std::collections::hash_map::Entry::Vacant(e) = room.index.entry(member.id) {
            e.insert(room.members.len());
            room.members.push(member);
        }
    }

    pub(crate) fn leave(&self, room: &str, member: Member) {
        let mut rooms = lock(&self.rooms);
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        if r.members
            .get(r.index.get(&member.id).copied().unwrap_or(usize::MAX))
            != Some(&member)
        {
            return;
        }
        let at = r.index.remove(&member.id).unwrap_or_default();
        r.members.swap_remove(at);
        if let Some(moved) = r.members.get(at) {
            r.index.insert(moved.id, at);
        }
        if r.members.is_empty() {
            rooms.remove(room);
            if let Some(bp) = &self.backplane {
                bp.unsubscribe(room);
            }
        }
    }

    /// Sends `frame` to the members of `room` except `skip`, and to the other nodes through
    /// the backplane. Members on other loops are reached through their inboxes; those on
    /// `local_loop` are returned for the caller to queue directly.
    pub(crate) fn publish(
        &self,
        room: &str,
        frame: &Arc<[u8]>,
        local_loop: usize,
        skip: Option<Member>,
    ) -> Vec<(usize, u64)> {
        if let Some(bp) = &self.backplane {
            bp.publish(room, frame);
        }
        // With history, stream members get it back from Redis, with its offset.
        let stream_members = !self.history();
        self.fan_out(room, frame, Some(local_loop), skip, stream_members)
    }

    fn history(&self) -> bool {
        self.backplane.as_ref().is_some_and(|b| b.history() > 0)
    }

    /// Delivers a frame another node published to every local member of `room`, through
    /// the loops' inboxes (called by the backplane's subscriber).
    pub(crate) fn deliver_remote(&self, room: &str, frame: Arc<[u8]>) {
        self.fan_out(room, &frame, None, None, true);
    }

    /// Delivers a message of the room's stream (`--history`) to the local members: stream
    /// members get it (stamped if they asked), the others only if another node published it
    /// (they had this node's own at once).
    pub(crate) fn deliver_stream(
        &self,
        room: &str,
        frame: &[u8],
        offset: Offset,
        epoch: &str,
        own: bool,
    ) {
        let n = self.loops.len();
        let (mut plain_to, mut stream_to, mut stamped_to) = (
            vec![Vec::new(); n],
            vec![Vec::new(); n],
            vec![Vec::new(); n],
        );
        {
            let rooms = lock(&self.rooms);
            for m in rooms.get(room).into_iter().flat_map(|r| &r.members) {
                let list = match (m.stream, m.stamped) {
                    (false, _) if own => continue,
                    (false, _) => &mut plain_to,
                    (true, false) => &mut stream_to,
                    (true, true) => &mut stamped_to,
                };
                if let Some(l) = list.get_mut(m.loop_id) {
                    l.push((m.key, m.id));
                }
            }
        }
        let plain: Arc<[u8]> = Arc::from(frame);
        let stamped: Option<Arc<[u8]>> = stamped_to
            .iter()
            .any(|l| !l.is_empty())
            .then(|| stamp(frame, offset, epoch).into());
        let room: Arc<str> = Arc::from(room);
        for (loop_id, handle) in self.loops.iter().enumerate() {
            let mut cmds = Vec::new();
            let plain_list = std::mem::take(&mut plain_to[loop_id]);
            if !plain_list.is_empty() {
                cmds.push(Cmd::Deliver {
                    frame: plain.clone(),
                    to: plain_list,
                });
            }
            for (list, frame) in [
                (&mut stream_to, Some(&plain)),
                (&mut stamped_to, stamped.as_ref()),
            ] {
                let to = std::mem::take(&mut list[loop_id]);
                if let (false, Some(frame)) = (to.is_empty(), frame) {
                    cmds.push(Cmd::DeliverStream {
                        room: room.clone(),
                        offset,
                        frame: frame.clone(),
                        to,
                    });
                }
            }
            if !cmds.is_empty() {
                lock(&handle.inbox).extend(cmds);
                let _ = handle.poller.notify();
            }
        }
    }

    /// Hands a resuming member what it missed (or why it cannot have it).
    pub(crate) fn resumed(
        &self,
        member: Member,
        room: &str,
        outcome: Result<(), &str>,
        epoch: &str,
        frames: Vec<(Offset, Vec<u8>)>,
    ) {
        let text = crate::backplane::resume_notice(room, epoch, outcome.map(|()| frames.len()));
        let header = wslens::FrameHeader::new(wslens::OpCode::Text, text.len() as u64);
        let mut notice = Vec::with_capacity(header.encoded_len() + text.len());
        wslens::frame::encode_frame(&mut notice, &header, text.as_bytes());
        self.hand_over(
            member,
            room,
            Some(notice.into()),
            Offset::default(),
            epoch,
            frames,
        );
    }

    /// Hands a stream member that joined afresh what was published between its join and its
    /// room's subscription on this node.
    pub(crate) fn joined(
        &self,
        member: Member,
        room: &str,
        after: Offset,
        epoch: &str,
        frames: Vec<(Offset, Vec<u8>)>,
    ) {
        self.hand_over(member, room, None, after, epoch, frames);
    }

    fn hand_over(
        &self,
        member: Member,
        room: &str,
        notice: Option<Arc<[u8]>>,
        after: Offset,
        epoch: &str,
        frames: Vec<(Offset, Vec<u8>)>,
    ) {
        let frames = frames
            .into_iter()
            .map(|(offset, f)| {
                let f: Arc<[u8]> = if member.stamped {
                    stamp(&f, offset, epoch).into()
                } else {
                    f.into()
                };
                (offset, f)
            })
            .collect();
        let Some(handle) = self.loops.get(member.loop_id) else {
            return;
        };
        lock(&handle.inbox).push(Cmd::Resumed(Handover {
            key: member.key,
            id: member.id,
            room: room.into(),
            notice,
            after,
            frames,
        }));
        let _ = handle.poller.notify();
    }

    fn fan_out(
        &self,
        room: &str,
        frame: &Arc<[u8]>,
        local_loop: Option<usize>,
        skip: Option<Member>,
        stream_members: bool,
    ) -> Vec<(usize, u64)> {
        let mut per_loop: Vec<Vec<(usize, u64)>> = vec![Vec::new(); self.loops.len()];
        {
            let rooms = lock(&self.rooms);
            for m in rooms.get(room).into_iter().flat_map(|r| &r.members) {
                if Some(*m) != skip && (stream_members || !m.stream) {
                    if let Some(list) = per_loop.get_mut(m.loop_id) {
                        list.push((m.key, m.id));
                    }
                }
            }
        }
        let local = local_loop
            .and_then(|l| per_loop.get_mut(l))
            .map(std::mem::take)
            .unwrap_or_default();
        for (loop_id, to) in per_loop.into_iter().enumerate() {
            if to.is_empty() {
                continue;
            }
            let handle = &self.loops[loop_id];
            lock(&handle.inbox).push(Cmd::Deliver {
                frame: frame.clone(),
                to,
            });
            // A failed notify means the loop is gone (shutting down); nothing to deliver to.
            let _ = handle.poller.notify();
        }
        local
    }
}

/// `frame` (a whole unmasked server frame, checked by the backplane) with its payload
/// prefixed by `<offset> <epoch>\n`: the form `wslens.offsets` clients get.
fn stamp(frame: &[u8], offset: Offset, epoch: &str) -> Vec<u8> {
    let (op, payload) =
        crate::backplane::server_frame(frame).unwrap_or((wslens::OpCode::Binary, &[]));
    let line = format!("{offset} {epoch}\n");
    let header = wslens::FrameHeader::new(op, (line.len() + payload.len()) as u64);
    let mut out = Vec::with_capacity(header.encoded_len() + line.len() + payload.len());
    header.encode_into(&mut out);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Hub {
        Hub::new(
            vec![LoopHandle {
                poller: Arc::new(Poller::new().expect("poller")),
                inbox: Mutex::new(Vec::new()),
            }],
            None,
        )
    }

    fn member(id: u64) -> Member {
        Member {
            loop_id: 0,
            key: id as usize + 100,
            id,
            stream: false,
            stamped: false,
        }
    }

    #[test]
    fn stamped_frames_carry_offset_and_epoch_before_the_payload() {
        let f = stamp(b"\x81\x02hi", Offset(17, 2), "ab");
        assert_eq!(f, b"\x81\x0a17-2 ab\nhi");
        let mut big = vec![0x82, 126, 0x01, 0x00];
        big.extend_from_slice(&[7; 256]);
        let f = stamp(&big, Offset(1, 0), "e");
        assert_eq!(&f[..4], &[0x82, 126, 0x01, 0x06]);
        assert_eq!(&f[4..10], b"1-0 e\n");
        assert_eq!(f.len(), 4 + 6 + 256);
    }

    fn receivers(hub: &Hub, room: &str) -> Vec<u64> {
        let frame: Arc<[u8]> = Arc::from(&b"\x81\x00"[..]);
        let mut ids: Vec<u64> = hub
            .publish(room, &frame, 0, None)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn join_leave_and_publish_keep_the_member_set_exact() {
        let hub = hub();
        for id in 1..=5 {
            hub.join("r", member(id));
        }
        hub.join("r", member(3)); // idempotent
        assert_eq!(receivers(&hub, "r"), [1, 2, 3, 4, 5]);
        hub.leave("r", member(2)); // from the middle: the last one moves into its place
        hub.leave("r", member(1));
        hub.leave("r", member(9)); // not a member: nothing happens
        hub.leave("other", member(3)); // no such room: nothing happens
        assert_eq!(receivers(&hub, "r"), [3, 4, 5]);
        // A stale member (same id, another key) does not remove the real one.
        hub.leave(
            "r",
            Member {
                key: 7,
                ..member(4)
            },
        );
        assert_eq!(receivers(&hub, "r"), [3, 4, 5]);
        for id in [5, 3, 4] {
            hub.leave("r", member(id));
        }
        assert!(receivers(&hub, "r").is_empty());
        assert!(lock(&hub.rooms).is_empty(), "an empty room is removed");
        // The room works again after emptying.
        hub.join("r", member(8));
        assert_eq!(receivers(&hub, "r"), [8]);
    }

    #[test]
    fn skip_leaves_out_the_sender() {
        let hub = hub();
        for id in 1..=3 {
            hub.join("r", member(id));
        }
        let frame: Arc<[u8]> = Arc::from(&b"\x81\x00"[..]);
        let mut to: Vec<u64> = hub
            .publish("r", &frame, 0, Some(member(2)))
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        to.sort_unstable();
        assert_eq!(to, [1, 3]);
    }
}
