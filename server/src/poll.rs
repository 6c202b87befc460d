//! The event loop's readiness poller: `polling` everywhere, and on Linux a thinner epoll of
//! our own with the same interface.
//!
//! Why not `polling` on Linux too: `polling` 3.11's epoll backend makes three system calls
//! per wait besides `epoll_wait` itself, whatever the timeout (`timerfd_settime` for its
//! timerfd, then an `epoll_ctl` to re-arm it and another to re-arm its notifier, both
//! registered oneshot), and a server that wakes once per message pays them on every message.
//! Here the timeout is `epoll_wait`'s own (milliseconds, rounded up: the loop's deadlines are
//! whole milliseconds), the notifier is an eventfd registered level-triggered, read only when
//! it fired, and sources are registered level-triggered once (`epoll_ctl` only when the
//! interest changes). `bench/README.md` has the strace counts before and after.
//!
//! The interface is the part of `polling::Poller` the loop uses, with `polling`'s own
//! [`Event`] and [`PollMode`], so the loop compiles unchanged on every platform.

pub(crate) use polling::{Event, PollMode};

#[cfg(not(target_os = "linux"))]
pub(crate) use polling::{Events, Poller};

#[cfg(target_os = "linux")]
pub(crate) use linux::{Events, Poller};

#[cfg(target_os = "linux")]
mod linux {
    use super::{Event, PollMode};
    use rustix::buffer::spare_capacity;
    use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
    use rustix::event::{eventfd, EventfdFlags, Timespec};
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::Duration;

    /// The notifier's key: never a connection's (slab keys) nor a listener's.
    const NOTIFY_KEY: u64 = u64::MAX;
    /// Most events taken per wait.
    const CAPACITY: usize = 1024;
    /// The longest single wait: a longer timeout returns after it with no events, and the
    /// loop, finding no deadline due, waits again.
    const MAX_WAIT: Duration = Duration::from_secs(3600);

    /// An epoll instance and an eventfd to wake it from other threads.
    #[derive(Debug)]
    pub(crate) struct Poller {
        epoll: OwnedFd,
        notifier: OwnedFd,
    }

    /// Events returned by [`Poller::wait`]: epoll's own, read as [`Event`]s when iterated.
    pub(crate) struct Events {
        raw: Vec<epoll::Event>,
    }

    impl Events {
        pub(crate) fn new() -> Self {
            Events {
                raw: Vec::with_capacity(CAPACITY),
            }
        }

        pub(crate) fn clear(&mut self) {
            self.raw.clear();
        }

        /// The ready sources (the notifier's wake-up is not one).
        pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
            self.raw
                .iter()
                .filter(|raw| raw.data.u64() != NOTIFY_KEY)
                .map(|raw| {
                    let f = raw.flags;
                    let gone = f.intersects(EventFlags::HUP | EventFlags::ERR);
                    Event::new(
                        raw.data.u64() as usize,
                        gone || f.intersects(EventFlags::IN | EventFlags::PRI),
                        gone || f.contains(EventFlags::OUT),
                    )
                })
        }
    }

    /// What `epoll_ctl` is given for `event` in `mode`: the key as the data, and the flags.
    /// Hang-ups and errors are always reported (epoll does so), as readable and writable
    /// both, as `polling` does ([`Events::iter`]): the next read or write says what happened.
    fn registration(event: Event, mode: PollMode) -> (EventData, EventFlags) {
        (EventData::new_u64(event.key as u64), flags(event, mode))
    }

    fn flags(event: Event, mode: PollMode) -> EventFlags {
        let mut flags = EventFlags::empty();
        if event.readable {
            flags |= EventFlags::IN | EventFlags::PRI;
        }
        if event.writable {
            flags |= EventFlags::OUT;
        }
        match mode {
            PollMode::Oneshot => flags | EventFlags::ONESHOT,
            PollMode::Edge => flags | EventFlags::ET,
            PollMode::EdgeOneshot => flags | EventFlags::ET | EventFlags::ONESHOT,
            _ => flags,
        }
    }

    /// A wait's timeout in whole milliseconds, rounded up (so a deadline is never woken
    /// for early), at most [`MAX_WAIT`].
    fn millis(timeout: Duration) -> Timespec {
        let ms = timeout.min(MAX_WAIT).as_nanos().div_ceil(1_000_000);
        Timespec {
            tv_sec: (ms / 1000) as _,
            tv_nsec: ((ms % 1000) * 1_000_000) as _,
        }
    }

    impl Poller {
        pub(crate) fn new() -> io::Result<Self> {
            let epoll = epoll::create(CreateFlags::CLOEXEC)?;
            let notifier = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            epoll::add(
                &epoll,
                &notifier,
                EventData::new_u64(NOTIFY_KEY),
                EventFlags::IN,
            )?;
            Ok(Poller { epoll, notifier })
        }

        /// Registers `source` with `interest` in `mode`.
        ///
        /// # Safety
        /// Kept `unsafe` as `polling`'s is, for one contract on every platform: `source` is
        /// deleted from the poller before it is closed. (epoll itself would only report a
        /// closed descriptor spuriously, never touch freed memory: the data is a key.)
        pub(crate) unsafe fn add_with_mode(
            &self,
            source: impl AsFd,
            interest: Event,
            mode: PollMode,
        ) -> io::Result<()> {
            let (data, flags) = registration(interest, mode);
            Ok(epoll::add(&self.epoll, source, data, flags)?)
        }

        /// Changes the interest of a registered `source`.
        pub(crate) fn modify_with_mode(
            &self,
            source: impl AsFd,
            interest: Event,
            mode: PollMode,
        ) -> io::Result<()> {
            let (data, flags) = registration(interest, mode);
            Ok(epoll::modify(&self.epoll, source, data, flags)?)
        }

        /// Unregisters `source`.
        pub(crate) fn delete(&self, source: impl AsFd) -> io::Result<()> {
            Ok(epoll::delete(&self.epoll, source)?)
        }

        /// Waits until a source is ready, [`Poller::notify`] is called, or `timeout` passes;
        /// `events` then holds what is ready (earlier contents are replaced: the buffer's
        /// whole capacity is offered to `epoll_wait`), and the count of ready sources is
        /// returned.
        pub(crate) fn wait(
            &self,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<usize> {
            events.raw.clear();
            let timeout = timeout.map(millis);
            epoll::wait(
                &self.epoll,
                spare_capacity(&mut events.raw),
                timeout.as_ref(),
            )?;
            let mut ready = events.raw.len();
            if events.raw.iter().any(|raw| raw.data.u64() == NOTIFY_KEY) {
                ready -= 1;
                // Reset the counter so the next wait blocks again; a failure is EAGAIN
                // (another wait already read it).
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(&self.notifier, &mut buf);
            }
            Ok(ready)
        }

        /// Wakes the current or the next [`Poller::wait`].
        pub(crate) fn notify(&self) -> io::Result<()> {
            match rustix::io::write(&self.notifier, &1u64.to_ne_bytes()) {
                // EAGAIN: the counter is full, so a wake-up is pending anyway.
                Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        use std::sync::Arc;
        use std::time::Instant;

        #[test]
        fn level_triggered_readiness_until_read_and_interest_changes() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            server.set_nonblocking(true).unwrap();
            let poller = Poller::new().unwrap();
            // SAFETY: `server` is deleted below, before it drops.
            unsafe { poller.add_with_mode(&server, Event::readable(7), PollMode::Level) }.unwrap();
            let mut events = Events::new();
            let ms = Some(Duration::from_millis(10));
            assert_eq!(
                poller.wait(&mut events, ms).unwrap(),
                0,
                "nothing to read yet"
            );
            client.write_all(b"hi").unwrap();
            // A wake-up beside a ready source is not counted nor listed as one.
            poller.notify().unwrap();
            for _ in 0..2 {
                // Level-triggered: reported again while unread, no re-arm needed.
                events.clear();
                assert_eq!(
                    poller
                        .wait(&mut events, Some(Duration::from_secs(5)))
                        .unwrap(),
                    1
                );
                let listed: Vec<_> = events
                    .iter()
                    .map(|e| (e.key, e.readable, e.writable))
                    .collect();
                assert_eq!(listed, [(7, true, false)]);
            }
            poller
                .modify_with_mode(&server, Event::writable(7), PollMode::Level)
                .unwrap();
            events.clear();
            poller.wait(&mut events, ms).unwrap();
            let e = events.iter().next().unwrap();
            assert_eq!((e.readable, e.writable), (false, true));
            // A peer that goes away is reported as readable (the read says EOF).
            poller
                .modify_with_mode(&server, Event::readable(7), PollMode::Level)
                .unwrap();
            drop(client);
            events.clear();
            poller.wait(&mut events, ms).unwrap();
            assert!(events.iter().next().unwrap().readable);
            poller.delete(&server).unwrap();
            events.clear();
            assert_eq!(poller.wait(&mut events, ms).unwrap(), 0);
        }

        #[test]
        fn notify_wakes_a_wait_and_timeouts_are_never_early() {
            let poller = Arc::new(Poller::new().unwrap());
            let mut events = Events::new();
            let start = Instant::now();
            assert_eq!(
                poller
                    .wait(&mut events, Some(Duration::from_micros(1500)))
                    .unwrap(),
                0
            );
            assert!(
                start.elapsed() >= Duration::from_micros(1500),
                "rounded up, not down"
            );
            let other = Arc::clone(&poller);
            let waker = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                other.notify().unwrap();
            });
            // Woken by the notification (no timeout at all), and reported as no event.
            assert_eq!(poller.wait(&mut events, None).unwrap(), 0);
            waker.join().unwrap();
            // Two notifications before a wait wake it once; the one after that waits again.
            poller.notify().unwrap();
            poller.notify().unwrap();
            assert_eq!(poller.wait(&mut events, None).unwrap(), 0);
            let start = Instant::now();
            poller
                .wait(&mut events, Some(Duration::from_millis(5)))
                .unwrap();
            assert!(start.elapsed() >= Duration::from_millis(5));
            assert_eq!(millis(Duration::from_nanos(1)).tv_nsec, 1_000_000);
            assert_eq!(millis(Duration::from_secs(7200)).tv_sec, 3600);
        }
    }
}
