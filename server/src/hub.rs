//! Rooms across event loops. A published frame is encoded once; its bytes (`Arc<[u8]>`) are
//! shared by every receiver's output queue. Receivers on other loops get it through their
//! loop's inbox and a `notify()` that wakes its `wait`.

use polling::Poller;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A connection in a room: which loop holds it, its slab key there, and its id (keys are
/// reused; the id tells a stale member from a new connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) loop_id: usize,
    pub(crate) key: usize,
    pub(crate) id: u64,
}

/// Work sent to a loop from another thread.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// Queue `frame` on these connections (key, id).
    Deliver {
        frame: Arc<[u8]>,
        to: Vec<(usize, u64)>,
    },
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

/// The room registry.
#[derive(Debug)]
pub(crate) struct Hub {
    rooms: Mutex<HashMap<String, Vec<Member>>>,
    pub(crate) loops: Vec<LoopHandle>,
}

impl Hub {
    pub(crate) fn new(loops: Vec<LoopHandle>) -> Self {
        Hub {
            rooms: Mutex::new(HashMap::new()),
            loops,
        }
    }

    pub(crate) fn join(&self, room: &str, member: Member) {
        let mut rooms = lock(&self.rooms);
        let members = rooms.entry(room.to_owned()).or_default();
        if !members.contains(&member) {
            members.push(member);
        }
    }

    pub(crate) fn leave(&self, room: &str, member: Member) {
        let mut rooms = lock(&self.rooms);
        if let Some(members) = rooms.get_mut(room) {
            members.retain(|m| *m != member);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }

    /// Sends `frame` to the members of `room` except `skip`. Members on other loops are
    /// reached through their inboxes; those on `local_loop` are returned for the caller to
    /// queue directly.
    pub(crate) fn publish(
        &self,
        room: &str,
        frame: &Arc<[u8]>,
        local_loop: usize,
        skip: Option<Member>,
    ) -> Vec<(usize, u64)> {
        let mut per_loop: Vec<Vec<(usize, u64)>> = vec![Vec::new(); self.loops.len()];
        {
            let rooms = lock(&self.rooms);
            for m in rooms.get(room).into_iter().flatten() {
                if Some(*m) != skip {
                    if let Some(list) = per_loop.get_mut(m.loop_id) {
                        list.push((m.key, m.id));
                    }
                }
            }
        }
        let local = std::mem::take(&mut per_loop[local_loop]);
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
